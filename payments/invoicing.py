"""Invoices and credit codes (writes). Issuing is idempotent by `source_key` and serialised per tenant:
the tenant row is locked while credits are consumed and the next gap-free number is taken."""

import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from accounts.audit import audit_record
from accounts.models import Tenant
from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import format_money, round_minor
from ops.outbox import invoice_event, webhook_emit

from .discounts import discount_lines, discounts_record
from .models import (
    Credit,
    CreditApplication,
    CreditCode,
    CreditRedemption,
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
)
from .services import credit_grant

# Crockford's base32 without I, L, O, U: nothing to misread. 16 symbols = 80 bits.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16


def tax_rate() -> Decimal:
    return Decimal(str(settings.BILLING_TAX_RATE))


@dataclass(frozen=True)
class Totals:
    usage_amount: int
    credit_applied: int
    determined_amount: int
    tax_amount: int
    payment_amount: int
    allocations: tuple  # ((credit, amount), ...)


def compute_totals(*, line_amounts, credits, rate: Decimal) -> Totals:
    """Usage = sum of lines; credits (already in application order, with `amount_available`) are applied up to
    the usage; tax is charged on what is left and rounded once for the whole invoice."""
    usage = sum(line_amounts)
    if usage < 0:
        raise ApplicationError("An invoice cannot total less than zero; record the difference as credit.", code="negative_invoice")
    remaining = usage
    allocations = []
    for credit in credits:
        if remaining == 0:
            break
        take = min(credit.amount_available, remaining)
        if take > 0:
            allocations.append((credit, take))
            remaining -= take
    applied = usage - remaining
    tax = round_minor(Decimal(remaining) * rate)
    return Totals(usage, applied, remaining, tax, remaining + tax, tuple(allocations))


def credits_in_application_order(*, tenant, at, lock=False):
    """Redeemed credit codes first, earliest expiry first; then the rest of the balance (oldest first)."""
    qs = Credit.objects.filter(tenant=tenant, currency=tenant.currency, amount_used__lt=F("amount_charged")).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=at)
    )
    if lock:
        qs = qs.select_for_update()
    credits = list(qs)
    codes = sorted((c for c in credits if c.source == Credit.Source.CREDIT_CODE), key=lambda c: (c.expires_at, c.pk))
    rest = sorted(
        (c for c in credits if c.source != Credit.Source.CREDIT_CODE),
        key=lambda c: (c.expires_at is None, c.expires_at or c.registered_at, c.registered_at, c.pk),
    )
    return codes + rest


def _next_number(*, tenant, year: int) -> str:
    """Take the next number of the tenant's year in one statement; the row stays locked until the invoice commits,
    and a rolled-back invoice gives its number back (no gaps)."""
    table = InvoiceNumberSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, year, last_number) VALUES (%s, %s, 1) "  # noqa: S608 - table name is ours
            "ON CONFLICT (tenant_id, year) DO UPDATE SET last_number = " + table + ".last_number + 1 "
            "RETURNING last_number",
            [tenant.pk, year],
        )
        number = cursor.fetchone()[0]
    return f"{year}-{number:05d}"


def invoice_issue(
    *, tenant, kind, source_key, lines, billing_date, period_start=None, period_end=None, apply_credits=True,
    payment_method=Invoice.PaymentMethod.CARD, charge_at=None, tenant_locked=False, discount_plan=None,
    discount_fraction=None,
) -> Invoice:
    """Issue one invoice for `source_key` (e.g. 'monthly-<tenant id>-2026-04'); a second call returns the first.

    `lines` are dicts with description, amount and optionally quantity and unit_amount (zero-amount lines are kept).
    A card invoice left to pay is charged from `charge_at`. `tenant_locked`: the caller already holds the tenant's
    row lock in this transaction and has checked that the invoice does not exist. `discount_plan`: the tenant's
    discounts apply (lines carry a `category`), for this plan; `discount_fraction` prorates fixed-amount ones
    (payments.discounts: discounts, then credits, then tax).
    """
    if not tenant_locked:
        existing = Invoice.objects.filter(source_key=source_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic(savepoint=not tenant_locked):
            if not tenant_locked:
                tenant = (Tenant.objects.select_for_update(of=("self",)).select_related("payment_administrator")
                          .get(pk=tenant.pk))
                existing = Invoice.objects.filter(source_key=source_key).first()
                if existing is not None:
                    return existing
            now = clock.now()
            applied = []
            if discount_plan is not None:
                applied = discount_lines(tenant=tenant, lines=lines, billing_date=billing_date, plan=discount_plan,
                                         fraction=discount_fraction)
                lines = [*lines, *(line for _discount, line in applied)]
            credits = credits_in_application_order(tenant=tenant, at=now, lock=True) if apply_credits else []
            rate = tax_rate()
            totals = compute_totals(line_amounts=[line["amount"] for line in lines], credits=credits, rate=rate)
            invoice = Invoice.objects.create(
                tenant=tenant, kind=kind, source_key=source_key,
                number=_next_number(tenant=tenant, year=billing_date.year),
                receipt_id="R" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(15)),
                period_start=period_start, period_end=period_end, billing_date=billing_date, issued_at=now,
                currency=tenant.currency, usage_amount=totals.usage_amount, credit_applied=totals.credit_applied,
                determined_amount=totals.determined_amount, tax_rate=rate, tax_amount=totals.tax_amount,
                payment_amount=totals.payment_amount,
                status=Invoice.Status.SUCCESSFUL if totals.payment_amount == 0 else Invoice.Status.PENDING,
                paid_at=now if totals.payment_amount == 0 else None,
                next_attempt_at=(charge_at if totals.payment_amount and payment_method == Invoice.PaymentMethod.CARD
                                 else None),
                payment_method=payment_method,
                seller_name=settings.SELLER_NAME, seller_address=settings.SELLER_ADDRESS,
                buyer_name=tenant.name, buyer_address=tenant.address,
                buyer_email=tenant.payment_administrator.email if tenant.payment_administrator else "",
            )
            InvoiceLine.objects.bulk_create(
                InvoiceLine(
                    invoice=invoice, position=i, description=line["description"], amount=line["amount"],
                    quantity=line.get("quantity", 1), unit_amount=line.get("unit_amount"),
                )
                for i, line in enumerate(lines, start=1)
            )
            discounts_record(invoice=invoice, applied=applied)
            for credit, amount in totals.allocations:
                CreditApplication.objects.create(invoice=invoice, credit=credit, amount=amount)
                Credit.objects.filter(pk=credit.pk).update(amount_used=F("amount_used") + amount)
            audit_record(
                action="invoice.issued", tenant=tenant,
                data={"number": invoice.number, "kind": kind, "payment_amount": invoice.payment_amount,
                      "currency": invoice.currency, "credit_applied": invoice.credit_applied},
            )
            invoice_event("invoice.issued", invoice)
            return invoice
    except IntegrityError:
        existing = Invoice.objects.filter(source_key=source_key).first()
        if existing is None:
            raise
        return existing


# --- invoice status: the one transition function -------------------------------------------------------------

_INVOICE_TRANSITIONS = {
    Invoice.Status.PENDING: {Invoice.Status.SUCCESSFUL, Invoice.Status.FAILED, Invoice.Status.VOID},
    # failed again: next retry date; void: replaced by a corrected invoice (payments.corrections.invoice_reissue)
    Invoice.Status.FAILED: {Invoice.Status.SUCCESSFUL, Invoice.Status.FAILED, Invoice.Status.VOID},
    Invoice.Status.SUCCESSFUL: set(),  # paid is final (corrections are credit notes and refunds)
    Invoice.Status.VOID: set(),
}


def invoice_status_set(invoice: Invoice, status: str, *, paid_at=None, next_attempt_at=None) -> Invoice:
    """Every change of Invoice.status after issue goes through here, inside the caller's transaction and row
    lock: pending → successful | failed | void, failed → successful | failed (retry) | void, successful and
    void never change. Paid clears the next attempt; failed sets it (None: no automatic retry); void clears it."""
    if status not in _INVOICE_TRANSITIONS.get(invoice.status, set()):
        raise ApplicationError(
            f"Invoice {invoice.number} is {invoice.get_status_display().lower()}; it cannot become {status}.",
            code="bad_transition",
        )
    invoice.status = status
    if status == Invoice.Status.SUCCESSFUL:
        invoice.paid_at = paid_at or clock.now()
        invoice.next_attempt_at = None
        invoice.save(update_fields=["status", "paid_at", "next_attempt_at"])
    else:
        invoice.next_attempt_at = next_attempt_at
        invoice.save(update_fields=["status", "next_attempt_at"])
    return invoice


# --- credit codes -------------------------------------------------------------------------------------------


def normalise_code(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def credit_code_issue(*, name, amount, currency, expires_at, redemption_limit=1, created_by=None) -> CreditCode:
    if amount <= 0:
        raise ApplicationError("The amount must be greater than zero.", code="bad_amount")
    if redemption_limit < 1:
        raise ApplicationError("The redemption limit must be at least 1.", code="bad_limit")
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                return CreditCode.objects.create(
                    name=name, code=code, amount=amount, currency=currency, expires_at=expires_at,
                    redemption_limit=redemption_limit, created_by=created_by,
                )
        except IntegrityError:
            continue
    raise ApplicationError("Could not generate a unique code; try again.")


@transaction.atomic
def credit_code_redeem(*, tenant, code: str, actor=None) -> Credit:
    """Register a credit code for the tenant. Single use per tenant, capped by the code's limit, under concurrency:
    the code row is locked and the (code, tenant) pair is unique in the database."""
    normalised = normalise_code(code)
    credit_code = CreditCode.objects.select_for_update().filter(code=normalised).first() if normalised else None
    if credit_code is None:
        raise ApplicationError("This credit code is not valid. Check it and try again.", code="unknown_code")
    now = clock.now()
    if credit_code.expires_at <= now:
        raise ApplicationError(
            f"This credit code expired on {clock.local_text(credit_code.expires_at, tenant.time_zone)}.",
            code="expired_code",
        )
    if credit_code.currency != tenant.currency:
        raise ApplicationError(
            f"This credit code is in {credit_code.currency}, but {tenant.name} is billed in {tenant.currency}.",
            code="wrong_currency",
        )
    if CreditRedemption.objects.filter(credit_code=credit_code, tenant=tenant).exists():
        raise ApplicationError("This credit code is already registered for your account.", code="already_redeemed")
    if credit_code.redeemed_count >= credit_code.redemption_limit:
        raise ApplicationError("This credit code has already been used.", code="code_used_up")
    credit = credit_grant(
        tenant=tenant, name=credit_code.name, amount_minor=credit_code.amount, currency=credit_code.currency,
        source=Credit.Source.CREDIT_CODE, source_key=f"credit-code-{credit_code.pk}-tenant-{tenant.pk}",
        expires_at=credit_code.expires_at,
    )
    CreditRedemption.objects.create(
        credit_code=credit_code, tenant=tenant, credit=credit, redeemed_by=actor, redeemed_at=now
    )
    CreditCode.objects.filter(pk=credit_code.pk).update(redeemed_count=F("redeemed_count") + 1)
    audit_record(
        action="credit_code.redeemed", tenant=tenant, actor=actor,
        data={"credit": credit_code.name, "amount": format_money(credit_code.amount, credit_code.currency)},
    )
    webhook_emit(type="credit.redeemed", tenant=tenant, data={"credit": {
        "id": credit.pk, "name": credit.name, "amount": credit.amount_charged, "currency": credit.currency,
        "expires_at": credit.expires_at.isoformat() if credit.expires_at else None}})
    return credit


@transaction.atomic
def invoice_mark_paid_by_transfer(*, invoice, actor=None) -> Invoice:
    """Ops confirm a bank transfer arrived. Pending bank-transfer invoices only; a paid one is left as it is."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status == Invoice.Status.SUCCESSFUL:
        return invoice
    if invoice.payment_method != Invoice.PaymentMethod.BANK_TRANSFER:
        raise ApplicationError("Only invoices paid by bank transfer are marked paid by hand.", code="not_bank_transfer")
    if invoice.status != Invoice.Status.PENDING:
        raise ApplicationError(f"The invoice is {invoice.get_status_display().lower()}.", code="not_pending")
    invoice_status_set(invoice, Invoice.Status.SUCCESSFUL)
    audit_record(action="invoice.paid", tenant=invoice.tenant, actor=actor,
                 data={"number": invoice.number, "method": "bank_transfer", "amount": invoice.payment_amount})
    invoice_event("invoice.paid", invoice)
    return invoice


@transaction.atomic
def credit_note_issue(*, invoice, amount: int, reason: str, actor=None, refund=None) -> Invoice:
    """Correct an issued invoice without editing it: a credit note (negative amounts, same tax rate) that refers
    to it, and the same amount (before tax) as tenant credit for the next invoice.

    `refund` (payments.corrections): the money went back to the card instead, so no credit is granted and the
    note carries exactly the refund's tax."""
    invoice = Invoice.objects.select_for_update().select_related("tenant").get(pk=invoice.pk)
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        raise ApplicationError("A credit note cannot itself be credited.", code="credit_note")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say why the invoice is corrected; the reason is printed on the credit note.",
                               code="reason_required")
    credited = -sum(Invoice.objects.filter(source_key__startswith=f"credit-note-{invoice.pk}-")
                    .values_list("usage_amount", flat=True))
    if amount <= 0 or amount > invoice.usage_amount - credited:
        raise ApplicationError(
            f"The amount must be between 1 and {format_money(invoice.usage_amount - credited, invoice.currency)} "
            "(the invoice's usage amount not yet credited).", code="bad_amount",
        )
    tenant = Tenant.objects.select_for_update(of=("self",)).get(pk=invoice.tenant_id)
    now = clock.now()
    today = clock.local_date(now, tenant.time_zone)  # number year and date in the customer's calendar
    sequence = Invoice.objects.filter(source_key__startswith=f"credit-note-{invoice.pk}-").count() + 1
    tax = refund.tax_minor if refund is not None else round_minor(Decimal(amount) * invoice.tax_rate)
    note = Invoice.objects.create(
        tenant=tenant, kind=Invoice.Kind.CREDIT_NOTE, source_key=f"credit-note-{invoice.pk}-{sequence}",
        number=_next_number(tenant=tenant, year=today.year),
        receipt_id="C" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(15)),
        billing_date=today, issued_at=now, currency=invoice.currency, usage_amount=-amount, credit_applied=0,
        determined_amount=-amount, tax_rate=invoice.tax_rate, tax_amount=-tax, payment_amount=-(amount + tax),
        status=Invoice.Status.SUCCESSFUL, paid_at=now, payment_method=invoice.payment_method,
        seller_name=invoice.seller_name, seller_address=invoice.seller_address, buyer_name=invoice.buyer_name,
        buyer_address=invoice.buyer_address, buyer_email=invoice.buyer_email,
    )
    InvoiceLine.objects.create(invoice=note, position=1, amount=-amount,
                               description=f"{'Refund' if refund is not None else 'Correction'} of invoice "
                                           f"{invoice.number}: {reason}")
    if refund is None:
        credit_grant(tenant=tenant, name=f"Credit note {note.number}", amount_minor=amount, currency=invoice.currency,
                     source=Credit.Source.MANUAL, source_key=f"credit-note-{note.pk}")
    audit_record(action="invoice.credit_note", tenant=tenant, actor=actor,
                 data={"invoice": invoice.number, "credit_note": note.number, "amount": amount, "reason": reason,
                       "refund": refund.idempotency_key if refund is not None else None})
    if refund is not None:  # money went back to the card (payments.corrections): tell the operator's systems
        invoice_event("invoice.refunded", invoice, refund={"amount": refund.amount_minor, "tax": refund.tax_minor,
                                                           "currency": refund.currency, "reason": reason},
                      credit_note={"number": note.number, "amount": amount})
    return note
