"""Issuing invoices: totals (discounts, then credits, then tax rounded once), gap-free numbers per tenant and
year, and the one transition function of an invoice's status (writes)."""

import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Tenant
from billing_portal.common import clock
from billing_portal.common.addresses import format_address
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import allocate, round_tax
from payments.events import invoice_event
from payments.invoicing.archive import archive_on_commit
from payments.invoicing.credits import CODE_ALPHABET, credits_in_application_order
from payments.invoicing.discounts import discount_lines, discounts_record
from payments.invoicing.due_dates import transfer_due_date
from payments.models import (
    ArchivedDocument,
    Credit,
    CreditApplication,
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
)


def tax_rate() -> Decimal:
    """The standard consumption tax rate (BILLING_TAX_RATE, 10%)."""
    return Decimal(str(settings.BILLING_TAX_RATE))


def tax_rate_of(category: str | None) -> Decimal:
    """The rate of a pricing unit's tax category: "standard" (BILLING_TAX_RATE, 10%) or "reduced"
    (BILLING_REDUCED_TAX_RATE, 8%)."""
    if category == "reduced":
        return Decimal(str(getattr(settings, "BILLING_REDUCED_TAX_RATE", "0.08")))
    return tax_rate()


@dataclass(frozen=True)
class TaxGroup:
    """The lines of one tax rate on one invoice: their total, the credit applied to them, what is taxed and the
    tax, rounded once for the rate."""

    rate: Decimal
    lines_amount: int
    credit: int
    taxable: int
    tax: int

    def as_json(self) -> dict:
        return {
            "rate": str(self.rate),
            "lines_amount": self.lines_amount,
            "credit": self.credit,
            "taxable": self.taxable,
            "tax": self.tax,
        }


@dataclass(frozen=True)
class Totals:
    usage_amount: int
    credit_applied: int
    determined_amount: int
    tax_amount: int
    payment_amount: int
    allocations: tuple  # ((credit, amount), ...)
    tax_groups: tuple = ()  # (TaxGroup, ...), highest rate first


def compute_totals(
    *, line_amounts, credits, rate: Decimal | None = None, rounding: str | None = None
) -> Totals:
    """Usage = sum of lines; credits (already in application order, with `amount_available`) are applied up to
    the usage; tax is charged on what is left, once per tax rate for the whole invoice.

    `line_amounts`: integers (all at `rate`) or (amount, rate) pairs. The credit applied is shared between the
    rates in proportion to their lines (money.allocate); each rate's tax is rounded once (money.round_tax, the
    INVOICE_TAX_ROUNDING mode unless `rounding`). A pure function: no database, no clock."""
    by_rate: dict[Decimal, int] = {}
    for item in line_amounts:
        amount, line_rate = item if isinstance(item, tuple) else (item, rate)
        if line_rate is None:
            raise ValueError("a line without a tax rate needs `rate`")
        line_rate = Decimal(line_rate)
        by_rate[line_rate] = by_rate.get(line_rate, 0) + int(amount)
    usage = sum(by_rate.values())
    if usage < 0:
        raise ApplicationError(
            _("An invoice cannot total less than zero; record the difference as credit."),
            code="negative_invoice",
        )
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
    rates = sorted(by_rate, reverse=True)
    shares = allocate(applied, [by_rate[r] for r in rates]) if rates else []
    groups = tuple(
        TaxGroup(
            rate=r,
            lines_amount=by_rate[r],
            credit=share,
            taxable=by_rate[r] - share,
            tax=round_tax(Decimal(by_rate[r] - share) * r, rounding),
        )
        for r, share in zip(rates, shares, strict=True)
    )
    tax = sum(group.tax for group in groups)
    return Totals(usage, applied, remaining, tax, remaining + tax, tuple(allocations), groups)


def invoice_tax_groups(invoice) -> list[TaxGroup]:
    """The invoice's amounts per tax rate as issued (one group for invoices issued before rates were recorded)."""
    if invoice.tax_breakdown:
        return [
            TaxGroup(
                rate=Decimal(row["rate"]),
                lines_amount=row["lines_amount"],
                credit=row["credit"],
                taxable=row["taxable"],
                tax=row["tax"],
            )
            for row in invoice.tax_breakdown
        ]
    return [
        TaxGroup(
            rate=invoice.tax_rate,
            lines_amount=invoice.usage_amount,
            credit=invoice.credit_applied,
            taxable=invoice.determined_amount,
            tax=invoice.tax_amount,
        )
    ]


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
    return number_format(year, number)


def number_format(year: int, number: int) -> str:
    return f"{year}-{number:05d}"


def receipt_id_new() -> str:
    # 15 random symbols of the 32-letter alphabet (256 is a multiple of 32: each symbol equally likely).
    return "R" + "".join(CODE_ALPHABET[byte % 32] for byte in secrets.token_bytes(15))


def invoice_build(
    *,
    tenant,
    kind,
    source_key,
    number: str,
    totals: Totals,
    rate: Decimal,
    billing_date,
    period_start,
    period_end,
    payment_method,
    charge_at,
    now,
) -> Invoice:
    """The unsaved invoice row for `totals` (one place for status, charge date, due date and the copied seller
    and buyer details: `invoice_issue` and the set-based monthly run both build their invoices here).
    `tenant` needs its payment administrator loaded."""
    return Invoice(
        tenant=tenant,
        kind=kind,
        source_key=source_key,
        number=number,
        receipt_id=receipt_id_new(),
        period_start=period_start,
        period_end=period_end,
        billing_date=billing_date,
        issued_at=now,
        currency=tenant.currency,
        usage_amount=totals.usage_amount,
        credit_applied=totals.credit_applied,
        determined_amount=totals.determined_amount,
        tax_rate=rate,
        tax_amount=totals.tax_amount,
        tax_breakdown=[group.as_json() for group in totals.tax_groups],
        payment_amount=totals.payment_amount,
        status=Invoice.Status.SUCCESSFUL if totals.payment_amount == 0 else Invoice.Status.PENDING,
        paid_at=now if totals.payment_amount == 0 else None,
        next_attempt_at=(
            charge_at if totals.payment_amount and payment_method == Invoice.PaymentMethod.CARD else None
        ),
        payment_method=payment_method,
        due_date=(
            transfer_due_date(billing_date)
            if payment_method == Invoice.PaymentMethod.BANK_TRANSFER and totals.payment_amount
            else None
        ),
        seller_name=settings.SELLER_NAME,
        seller_address=settings.SELLER_ADDRESS,
        buyer_name=tenant.name,
        buyer_address=_buyer_address(tenant),
        buyer_email=tenant.payment_administrator.email if tenant.payment_administrator else "",
    )


def invoice_lines_build(invoice: Invoice, lines) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            invoice=invoice,
            position=i,
            description=line["description"],
            amount=line["amount"],
            quantity=line.get("quantity", 1),
            unit_amount=line.get("unit_amount"),
            tax_rate=tax_rate_of(line.get("tax_category")),
        )
        for i, line in enumerate(lines, start=1)
    ]


def invoice_audit_data(invoice: Invoice) -> dict:
    return {
        "number": invoice.number,
        "kind": invoice.kind,
        "payment_amount": invoice.payment_amount,
        "currency": invoice.currency,
        "credit_applied": invoice.credit_applied,
    }


def _next_numbers(*, tenant_ids, year: int) -> dict[int, str]:
    """`_next_number` for many tenants in one statement (each tenant once): {tenant id: number}. The rows stay
    locked until the batch commits; a rolled-back batch gives every number back."""
    table = InvoiceNumberSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, year, last_number) "  # noqa: S608 - table name is ours
            "SELECT t, %s, 1 FROM unnest(%s::bigint[]) AS t ORDER BY t "
            "ON CONFLICT (tenant_id, year) DO UPDATE SET last_number = " + table + ".last_number + 1 "
            "RETURNING tenant_id, last_number",
            [year, sorted(tenant_ids)],
        )
        return {tenant_id: number_format(year, number) for tenant_id, number in cursor.fetchall()}


def invoice_totals(*, lines, credits) -> tuple[Decimal, Totals]:
    """The tax rate and totals of an invoice of `lines` (discount lines included) with `credits` in application
    order: the one call of `compute_totals` for issuing, per tenant and set-based alike."""
    rate = tax_rate()
    line_amounts = [(line["amount"], tax_rate_of(line.get("tax_category"))) for line in lines]
    return rate, compute_totals(line_amounts=line_amounts, credits=credits)


def invoice_issue(
    *,
    tenant,
    kind,
    source_key,
    lines,
    billing_date,
    period_start=None,
    period_end=None,
    apply_credits=True,
    payment_method=Invoice.PaymentMethod.CARD,
    charge_at=None,
    tenant_locked=False,
    discount_plan=None,
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
                tenant = (
                    Tenant.objects.select_for_update(of=("self",))
                    .select_related("payment_administrator")
                    .get(pk=tenant.pk)
                )
                existing = Invoice.objects.filter(source_key=source_key).first()
                if existing is not None:
                    return existing
            now = clock.now()
            applied = []
            if discount_plan is not None:
                applied = discount_lines(
                    tenant=tenant,
                    lines=lines,
                    billing_date=billing_date,
                    plan=discount_plan,
                    fraction=discount_fraction,
                )
                lines = [*lines, *(line for _discount, line in applied)]
            credits = credits_in_application_order(tenant=tenant, at=now, lock=True) if apply_credits else []
            rate, totals = invoice_totals(lines=lines, credits=credits)
            invoice = invoice_build(
                tenant=tenant,
                kind=kind,
                source_key=source_key,
                number=_next_number(tenant=tenant, year=billing_date.year),
                totals=totals,
                rate=rate,
                billing_date=billing_date,
                period_start=period_start,
                period_end=period_end,
                payment_method=payment_method,
                charge_at=charge_at,
                now=now,
            )
            invoice.save(force_insert=True)
            InvoiceLine.objects.bulk_create(invoice_lines_build(invoice, lines))
            discounts_record(invoice=invoice, applied=applied)
            for credit, amount in totals.allocations:
                CreditApplication.objects.create(invoice=invoice, credit=credit, amount=amount)
                Credit.objects.filter(pk=credit.pk).update(amount_used=F("amount_used") + amount)
            audit_record(action="invoice.issued", tenant=tenant, data=invoice_audit_data(invoice))
            invoice_event("invoice.issued", invoice)
            archive_on_commit(invoice, ArchivedDocument.Kind.INVOICE)  # 電子帳簿保存法: stored as issued
            if (
                invoice.status == Invoice.Status.SUCCESSFUL
            ):  # nothing to pay: paid, with its receipt, at issue
                archive_on_commit(invoice, ArchivedDocument.Kind.RECEIPT)
            return invoice
    except IntegrityError:
        existing = Invoice.objects.filter(source_key=source_key).first()
        if existing is None:
            raise
        return existing


_INVOICE_TRANSITIONS = {
    Invoice.Status.PENDING: {Invoice.Status.SUCCESSFUL, Invoice.Status.FAILED, Invoice.Status.VOID},
    # failed again: next retry date; void: replaced by a corrected invoice (payments.invoicing.corrections.invoice_reissue)
    Invoice.Status.FAILED: {Invoice.Status.SUCCESSFUL, Invoice.Status.FAILED, Invoice.Status.VOID},
    Invoice.Status.SUCCESSFUL: set(),  # paid is final (corrections are credit notes and refunds)
    Invoice.Status.VOID: set(),
}


def _buyer_address(tenant) -> str:
    """The address copied onto the invoice: 〒 postal code, prefecture and the rest, written in the address's own
    order (〒100-0005 東京都千代田区… for an address in Japanese)."""
    return format_address(
        postal_code=tenant.postal_code, prefecture=tenant.prefecture, address=tenant.address
    )[:300]


def invoice_status_set(invoice: Invoice, status: str, *, paid_at=None, next_attempt_at=None) -> Invoice:
    """Every change of Invoice.status after issue goes through here, inside the caller's transaction and row
    lock: pending → successful | failed | void, failed → successful | failed (retry) | void, successful and
    void never change. Paid clears the next attempt; failed sets it (None: no automatic retry); void clears it.
    Paid also archives the receipt after the commit (payments.invoicing.archive)."""
    if status not in _INVOICE_TRANSITIONS.get(invoice.status, set()):
        raise ApplicationError(
            _("Invoice %(number)s is %(status)s; it cannot become %(to)s.")
            % {"number": invoice.number, "status": invoice.get_status_display().lower(), "to": status},
            code="bad_transition",
        )
    invoice.status = status
    if status == Invoice.Status.SUCCESSFUL:
        invoice.paid_at = paid_at or clock.now()
        invoice.next_attempt_at = None
        invoice.save(update_fields=["status", "paid_at", "next_attempt_at"])
        archive_on_commit(
            invoice, ArchivedDocument.Kind.RECEIPT
        )  # card and bank transfer: the receipt is issued
    else:
        invoice.next_attempt_at = next_attempt_at
        invoice.save(update_fields=["status", "next_attempt_at"])
    return invoice


@transaction.atomic
def invoice_mark_paid_by_transfer(*, invoice, actor=None, paid_at=None) -> Invoice:
    """Ops confirm a bank transfer arrived (by hand, or a statement line: `paid_at` is then the statement date).
    Pending bank-transfer invoices only; a paid one is left as it is. The payment administrator gets the
    payment e-mail with the receipt link after commit."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status == Invoice.Status.SUCCESSFUL:
        return invoice
    if invoice.payment_method != Invoice.PaymentMethod.BANK_TRANSFER:
        raise ApplicationError(
            _("Only invoices paid by bank transfer are marked paid by hand."), code="not_bank_transfer"
        )
    if invoice.status != Invoice.Status.PENDING:
        raise ApplicationError(
            _("The invoice is %(status)s.") % {"status": invoice.get_status_display().lower()},
            code="not_pending",
        )
    invoice_status_set(invoice, Invoice.Status.SUCCESSFUL, paid_at=paid_at)
    audit_record(
        action="invoice.paid",
        tenant=invoice.tenant,
        actor=actor,
        data={"number": invoice.number, "method": "bank_transfer", "amount": invoice.payment_amount},
    )
    invoice_event("invoice.paid", invoice)
    invoice_id = invoice.pk
    transaction.on_commit(lambda: _email_paid(invoice_id))
    return invoice


def _email_paid(invoice_id: int) -> None:
    from payments.notifications import notify_payment_succeeded

    notify_payment_succeeded(
        invoice=Invoice.objects.select_related("tenant__payment_administrator").get(pk=invoice_id)
    )
