"""Bank transfer (振込): transfer references, payer names, bank statements, matching deposits to invoices (writes,
and the reads the review page needs).

- Each tenant paying by transfer has a `BankTransferProfile`: a 7-digit reference (6 random digits + a Damm check
  digit; unique, never reused) and the payer name its bank prints (振込名義, half-width katakana).
- Ops upload a statement CSV (`bank_statements.parse_statement`); its lines are stored, nothing else changes.
  `line_proposals` proposes for each line an invoice, by reference, then payer name, then amount alone.
- Ops confirm (`transfer_apply`, one line at a time): the line's row is locked and the `TransferPayment` is
  unique per line, so a deposit is applied once even when two people confirm it at the same moment. An invoice
  whose deposits reach its amount becomes paid through `invoice_mark_paid_by_transfer` (paid on the statement
  date, in the tenant's time zone; receipt and payment e-mail follow); less leaves it open with what was
  received recorded; more can become tenant credit (`credit_grant`, source key `transfer-line-<id>`).
"""

import hashlib
import re
import secrets
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from accounts.audit import audit_record
from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError, Conflict
from billing_portal.common.kana import bank_kana_invalid, bank_name_key, to_bank_kana
from billing_portal.common.money import format_money, round_minor
from payments.invoicing import bank_statements
from payments.invoicing.credits import credit_grant
from payments.invoicing.documents import invoice_mark_paid_by_transfer
from payments.models import (
    BankStatement,
    BankStatementLine,
    BankTransferProfile,
    Credit,
    Invoice,
    PaymentAccount,
    TransferPayment,
)

# --- transfer references -------------------------------------------------------------------------------------

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
REFERENCE_LENGTH = 7


def damm_digit(digits: str) -> str:
    """The Damm check digit: it catches every single wrong digit and every swap of two neighbours."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return str(interim)


def reference_valid(reference: str) -> bool:
    return (
        len(reference) == REFERENCE_LENGTH and reference.isdigit() and damm_digit(reference) == "0"
    )  # a number ending in its own check digit checks to 0


def _new_reference() -> str:
    body = f"{secrets.randbelow(900_000) + 100_000}"  # no leading zero: spreadsheets keep it intact
    return body + damm_digit(body)


def transfer_profile_assign(*, tenant) -> BankTransferProfile:
    """The tenant's profile, created with a new reference the first time (idempotent, safe under concurrency)."""
    existing = BankTransferProfile.objects.filter(tenant=tenant).first()
    if existing is not None:
        return existing
    for _ in range(20):
        try:
            with transaction.atomic():
                return BankTransferProfile.objects.create(tenant=tenant, reference=_new_reference())
        except IntegrityError:
            existing = BankTransferProfile.objects.filter(tenant=tenant).first()
            if existing is not None:
                return (
                    existing  # a concurrent call assigned it; otherwise the reference was taken: draw again
                )
    raise ApplicationError("Could not assign a transfer reference; try again.", code="reference_exhausted")


def payer_name_normalise(raw: str) -> str:
    """What a bank prints for `raw`; ApplicationError (field payer_name) when it cannot be printed."""
    name = to_bank_kana(raw)
    bad = bank_kana_invalid(name)
    if bad:
        raise ApplicationError(
            f"Write the payer name in kana or Latin letters as your bank prints it (e.g. ｶ)ｱｸﾒ); "
            f"these characters cannot be used: {bad}",
            code="bad_payer_name",
            extra={"field": "payer_name"},
        )
    if len(name) > 48:
        raise ApplicationError(
            "The payer name is longer than the 48 characters a bank prints.",
            code="bad_payer_name",
            extra={"field": "payer_name"},
        )
    return name


@transaction.atomic
def transfer_payer_name_set(*, tenant, payer_name: str, actor=None) -> BankTransferProfile:
    name = payer_name_normalise(payer_name) if (payer_name or "").strip() else ""
    profile = transfer_profile_assign(tenant=tenant)
    profile = BankTransferProfile.objects.select_for_update().get(pk=profile.pk)
    if profile.payer_name != name:
        audit_record(
            action="transfer.payer_name_set",
            tenant=tenant,
            actor=actor,
            data={"from": profile.payer_name, "to": name},
        )
        profile.payer_name = name
        profile.save(update_fields=["payer_name", "updated_at"])
    return profile


# --- reads -----------------------------------------------------------------------------------------------------

ACCOUNT_TYPES = {"ordinary": "普通", "current": "当座", "savings": "貯蓄"}


@dataclass(frozen=True)
class BankAccount:
    bank_name: str
    bank_code: str
    branch_name: str
    branch_code: str
    account_type: str  # ordinary | current | savings
    account_number: str
    account_holder: str

    @property
    def account_type_label(self) -> str:
        from django.utils.translation import gettext

        return {
            "ordinary": gettext("Ordinary (普通)"),
            "current": gettext("Current (当座)"),
            "savings": gettext("Savings (貯蓄)"),
        }.get(self.account_type, self.account_type)

    @property
    def account_type_ja(self) -> str:
        return ACCOUNT_TYPES.get(self.account_type, self.account_type)


def bank_account() -> BankAccount | None:
    """The operator's account from BANK_TRANSFER_ACCOUNT, or None while it is not configured."""
    data = {
        key: str(value or "").strip() for key, value in getattr(settings, "BANK_TRANSFER_ACCOUNT", {}).items()
    }
    if not (data.get("bank_name") and data.get("account_number") and data.get("account_holder")):
        return None
    return BankAccount(**{name: data.get(name, "") for name in BankAccount.__dataclass_fields__})


def transfer_details(*, tenant) -> dict:
    """What invoices, billing pages and reminders print for a tenant paying by transfer:
    {"bank_account": BankAccount | None, "reference": "1234566" | "", "payer_name": "ｶ)ｱｸﾒ" | ""}."""
    profile = BankTransferProfile.objects.filter(tenant=tenant).first()
    return {
        "bank_account": bank_account(),
        "reference": profile.reference if profile else "",
        "payer_name": profile.payer_name if profile else "",
    }


def received_amounts(invoice_ids) -> dict[int, int]:
    """Yen received by transfer per invoice (what the statement lines applied to it)."""
    rows = (
        TransferPayment.objects.filter(invoice_id__in=list(invoice_ids))
        .values("invoice_id")
        .annotate(total=Sum("amount"))
        .values_list("invoice_id", "total")
    )
    return dict(rows)


def open_transfer_invoices(*, tenant=None, live_only=False):
    """Unpaid bank-transfer invoices (oldest due first), each with `received` (yen so far) and `remaining`.
    `live_only`: without test tenants (their test clocks run their schedules)."""
    qs = (
        Invoice.objects.filter(
            payment_method=Invoice.PaymentMethod.BANK_TRANSFER,
            status=Invoice.Status.PENDING,
            payment_amount__gt=0,
        )
        .select_related("tenant")
        .annotate(received=Coalesce(Sum("transfer_payments__amount"), 0))
        .order_by("due_date", "billing_date", "pk")
    )
    if tenant is not None:
        qs = qs.filter(tenant=tenant)
    if live_only:
        qs = qs.filter(tenant__test_clock__isnull=True)
    invoices = list(qs)
    for invoice in invoices:
        invoice.remaining = invoice.payment_amount - invoice.received
    return invoices


def overdue_transfer_invoices(*, tenant=None, today=None):
    """Open bank-transfer invoices whose due date (in each tenant's calendar) has passed."""
    invoices = open_transfer_invoices(tenant=tenant)
    return [
        invoice
        for invoice in invoices
        if invoice.due_date is not None
        and invoice.due_date < (today or clock.today_in(invoice.tenant.time_zone))
    ]


# --- statements ------------------------------------------------------------------------------------------------


@dataclass
class Upload:
    statement: BankStatement
    created: bool  # False: this very file was uploaded before
    new_lines: int
    duplicate_lines: int


def statement_upload(*, data: bytes, filename: str, actor=None) -> Upload:
    """Store a statement and its deposit lines. Nothing is applied: ops confirm on the review page.
    The same file again returns the first upload; rows already imported from another file are skipped."""
    digest = hashlib.sha256(data).hexdigest()
    existing = BankStatement.objects.filter(file_sha256=digest).first()
    if existing is not None:
        return Upload(existing, False, 0, existing.duplicate_rows)
    try:
        parsed = bank_statements.parse_statement(data)
    except bank_statements.StatementUnreadable as exc:
        raise ApplicationError(str(exc), code="statement_unreadable") from exc
    keys = {row.key for row in parsed.rows}
    try:
        with transaction.atomic():
            known = set(
                BankStatementLine.objects.filter(line_key__in=keys).values_list("line_key", flat=True)
            )
            fresh = [row for row in parsed.rows if row.key not in known]
            statement = BankStatement.objects.create(
                file_sha256=digest,
                filename=(filename or "statement.csv")[:200],
                encoding=parsed.encoding,
                has_header=parsed.has_header,
                row_errors=[list(error) for error in parsed.errors],
                duplicate_rows=len(parsed.rows) - len(fresh),
                uploaded_by=actor,
                uploaded_at=clock.now(),
            )
            created = BankStatementLine.objects.bulk_create(
                [
                    BankStatementLine(
                        statement=statement,
                        row=row.row,
                        line_key=row.key,
                        booked_on=row.booked_on,
                        amount=row.amount,
                        payer_name=row.payer_name,
                        payer_name_raw=row.payer_name_raw,
                        reference=row.reference,
                    )
                    for row in fresh
                ],
                ignore_conflicts=True,  # a concurrent upload of an overlapping file took some: they stay theirs
            )
            audit_record(
                action="transfer.statement_uploaded",
                actor=actor,
                data={
                    "file": statement.filename,
                    "sha256": digest,
                    "lines": len(created),
                    "duplicates": statement.duplicate_rows,
                    "errors": len(parsed.errors),
                },
            )
    except IntegrityError:
        existing = BankStatement.objects.filter(file_sha256=digest).first()
        if existing is None:
            raise
        return Upload(existing, False, 0, existing.duplicate_rows)
    return Upload(statement, True, statement.lines.count(), statement.duplicate_rows)


@dataclass
class Proposal:
    line: BankStatementLine
    tenant: object = None
    invoice: Invoice | None = None
    rule: str = ""  # reference | name | amount | ""
    remaining: int = 0  # what the invoice still needed before this line
    checked: bool = False  # ticked on the review page

    @property
    def difference(self) -> int:
        """The line's amount less what the invoice needs: < 0 underpaid, > 0 overpaid."""
        return self.line.amount - self.remaining if self.invoice else 0


def _references_in(line) -> list[str]:
    text = unicodedata.normalize("NFKC", f"{line.reference} {line.payer_name_raw} {line.payer_name}")
    found = [line.reference] if line.reference else []
    found += re.findall(r"(?<!\d)\d{7}(?!\d)", text)
    return [ref for ref in dict.fromkeys(found) if reference_valid(ref)]


def _name_keys() -> dict[int, set[str]]:
    """Per tenant, the comparison keys of its payer names: the transfer profile's, the payment account's, its own."""
    keys: dict[int, set[str]] = defaultdict(set)
    for tenant_id, name in BankTransferProfile.objects.exclude(payer_name="").values_list(
        "tenant_id", "payer_name"
    ):
        keys[tenant_id].add(bank_name_key(name))
    for tenant_id, name, tenant_name in PaymentAccount.objects.filter(
        tenant__payment_settings__method="bank_transfer"
    ).values_list("tenant_id", "name", "tenant__name"):
        keys[tenant_id] |= {bank_name_key(name), bank_name_key(tenant_name)}
    return {tenant_id: {key for key in found if len(key) >= 3} for tenant_id, found in keys.items()}


def line_proposals(*, lines) -> list[Proposal]:
    """For each unapplied line, the invoice it most likely pays:
    1. reference (a 7-digit reference with a valid check digit in the reference column or the payer name) → that
       tenant; 2. otherwise the payer name → the one tenant whose payer name it is (or contains);
    then, of that tenant's open bank-transfer invoices, the oldest whose remaining amount equals the line's, else
    the oldest; 3. otherwise the one open invoice of any tenant with exactly that remaining amount.
    Exact reference or name matches with the right amount are ticked; the rest waits for ops' judgement.
    Invoices proposed for an earlier line of the batch count as paid by it."""
    invoices = [invoice for invoice in open_transfer_invoices() if invoice.currency == "JPY"]
    by_tenant = defaultdict(list)
    for invoice in invoices:
        by_tenant[invoice.tenant_id].append(invoice)
    tenants = {invoice.tenant_id: invoice.tenant for invoice in invoices}
    references = dict(BankTransferProfile.objects.values_list("reference", "tenant_id"))
    name_keys = _name_keys()
    planned: dict[int, int] = defaultdict(int)  # invoice id -> yen proposed from earlier lines
    proposals = []
    for line in lines:
        proposal = Proposal(line=line)
        proposals.append(proposal)
        if line.status != BankStatementLine.Status.UNAPPLIED:
            continue
        tenant_id, rule = None, ""
        matches = {references[ref] for ref in _references_in(line) if ref in references}
        if len(matches) == 1:
            tenant_id, rule = matches.pop(), "reference"
        else:
            key = bank_name_key(line.payer_name)
            named = {tid for tid, keys in name_keys.items() if any(k == key or k in key for k in keys)}
            if len(named) == 1:
                tenant_id, rule = named.pop(), "name"
        if tenant_id is not None:
            candidates = [(inv, inv.remaining - planned[inv.pk]) for inv in by_tenant.get(tenant_id, [])]
            candidates = [(inv, left) for inv, left in candidates if left > 0]
            exact = [pair for pair in candidates if pair[1] == line.amount]
            chosen = exact[0] if exact else (candidates[0] if candidates else None)
            if chosen is None:
                from accounts.models import Tenant

                proposal.tenant, proposal.rule = (
                    tenants.get(tenant_id) or Tenant.objects.get(pk=tenant_id),
                    rule,
                )
                continue
        else:
            exact = [(inv, inv.remaining - planned[inv.pk]) for inv in invoices]
            exact = [pair for pair in exact if pair[1] == line.amount]
            if len(exact) != 1:
                continue
            chosen, rule = exact[0], "amount"
        invoice, left = chosen
        proposal.tenant, proposal.invoice, proposal.rule, proposal.remaining = (
            invoice.tenant,
            invoice,
            rule,
            left,
        )
        proposal.checked = rule in ("reference", "name") and left == line.amount
        planned[invoice.pk] += line.amount
    return proposals


# --- applying --------------------------------------------------------------------------------------------------

_LINE_TRANSITIONS = {
    BankStatementLine.Status.UNAPPLIED: {BankStatementLine.Status.APPLIED, BankStatementLine.Status.IGNORED},
    BankStatementLine.Status.IGNORED: {BankStatementLine.Status.UNAPPLIED},  # ops change their mind
    BankStatementLine.Status.APPLIED: set(),  # applied money is final (corrections: credit notes, refunds)
}


def line_status_set(line: BankStatementLine, status: str, *, actor=None, note: str | None = None):
    """The one transition function of BankStatementLine.status (inside the caller's transaction and row lock)."""
    if status not in _LINE_TRANSITIONS[line.status]:
        raise Conflict(
            gettext("This deposit is already %(status)s; it cannot become %(new)s.")
            % {
                "status": line.get_status_display().lower(),
                "new": BankStatementLine.Status(status).label.lower(),
            },
            code="line_already_resolved",
        )
    line.status = status
    line.resolved_by = actor if getattr(actor, "is_authenticated", False) else None
    line.resolved_at = clock.now()
    if note is not None:
        line.note = note[:300]
    line.save(update_fields=["status", "resolved_by", "resolved_at", "note"])
    return line


def pre_tax_credit(amount_tax_included: int) -> int:
    """Credits apply before tax, so a tax-included overpayment becomes credit of its pre-tax value: ¥1,100 over
    → ¥1,000 credit, which takes ¥1,100 off the next invoice (tax inside: round(x × rate / (1 + rate)))."""
    from payments.invoicing.documents import tax_rate

    rate = tax_rate()
    return amount_tax_included - round_minor(Decimal(amount_tax_included) * rate / (1 + rate))


def _paid_at(line, tenant):
    """The statement date, as the start of that day in the tenant's time zone."""
    return datetime.combine(line.booked_on, time(0), tzinfo=ZoneInfo(tenant.time_zone))


@transaction.atomic
def transfer_apply(
    *, line, invoice=None, tenant=None, overpayment_to_credit=True, actor=None
) -> TransferPayment:
    """Apply a statement line to `invoice` (an open bank-transfer invoice), or wholly as credit to `tenant`.
    Refused (Conflict) when the line was applied or ignored already — by anyone, at any moment."""
    line = BankStatementLine.objects.select_for_update().get(pk=line.pk)
    if line.status != BankStatementLine.Status.UNAPPLIED:
        raise Conflict(
            gettext("Row %(row)s (%(line)s) is already %(status)s.")
            % {"row": line.row, "line": line, "status": line.get_status_display().lower()},
            code="line_already_resolved",
        )
    received = 0
    if invoice is not None:
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=invoice.pk)
        if invoice.payment_method != Invoice.PaymentMethod.BANK_TRANSFER:
            raise ApplicationError(
                gettext("Invoice %(number)s is not paid by bank transfer.") % {"number": invoice.number},
                code="not_bank_transfer",
            )
        if invoice.status != Invoice.Status.PENDING:
            raise Conflict(
                gettext("Invoice %(number)s is %(status)s.")
                % {"number": invoice.number, "status": invoice.get_status_display().lower()},
                code="not_pending",
            )
        if invoice.currency != line.currency:
            raise ApplicationError(
                gettext("Invoice %(number)s is in %(currency)s; the deposit is in %(deposit)s.")
                % {"number": invoice.number, "currency": invoice.currency, "deposit": line.currency},
                code="wrong_currency",
            )
        tenant = invoice.tenant
        received = received_amounts([invoice.pk]).get(invoice.pk, 0)
        applied = min(line.amount, invoice.payment_amount - received)
    elif tenant is None:
        raise ApplicationError(gettext("Choose an invoice or a customer."), code="nothing_chosen")
    else:
        applied = 0
    excess = line.amount - applied
    credit = None
    if excess and (overpayment_to_credit or invoice is None):
        if tenant.currency != line.currency:
            raise ApplicationError(
                gettext("%(name)s is billed in %(currency)s; the deposit is in %(deposit)s.")
                % {"name": tenant.name, "currency": tenant.currency, "deposit": line.currency},
                code="wrong_currency",
            )
        credit = credit_grant(
            tenant=tenant,
            name=f"Bank transfer of {line.booked_on:%Y-%m-%d} ({format_money(excess, line.currency)} "
            f"over{' invoice ' + invoice.number if invoice else ''})",
            amount_minor=pre_tax_credit(excess),
            currency=line.currency,
            source=Credit.Source.BANK_TRANSFER,
            source_key=f"transfer-line-{line.pk}",
        )
    try:
        with transaction.atomic():
            payment = TransferPayment.objects.create(
                line=line,
                tenant=tenant,
                invoice=invoice,
                amount=applied,
                credit=credit,
                applied_by=actor if getattr(actor, "is_authenticated", False) else None,
                applied_at=clock.now(),
            )
    except (
        IntegrityError
    ) as exc:  # the line's row lock makes this unreachable; the constraint is the guarantee
        raise Conflict(
            gettext("Row %(row)s is already applied.") % {"row": line.row}, code="line_already_resolved"
        ) from exc
    line_status_set(line, BankStatementLine.Status.APPLIED, actor=actor)
    audit_record(
        action="transfer.applied",
        tenant=tenant,
        actor=actor,
        data={
            "line": line.pk,
            "date": line.booked_on.isoformat(),
            "amount": line.amount,
            "payer_name": line.payer_name,
            "invoice": invoice.number if invoice else None,
            "applied": applied,
            "excess": excess,
            "credit": credit.amount_charged if credit else 0,
        },
    )
    if invoice is not None and received + applied >= invoice.payment_amount:
        payment.invoice = invoice_mark_paid_by_transfer(
            invoice=invoice, actor=actor, paid_at=_paid_at(line, tenant)
        )
    return payment


@dataclass
class ConfirmResult:
    applied: list
    refused: list  # (line, message)


def statement_confirm(*, choices, overpayment_to_credit=True, actor=None) -> ConfirmResult:
    """Apply the ticked lines of the review page: `choices` is [(line, invoice)], each applied in its own
    transaction (a refused line — applied meanwhile by someone else, invoice paid meanwhile — refuses only itself)."""
    result = ConfirmResult([], [])
    for line, invoice in choices:
        try:
            result.applied.append(
                transfer_apply(
                    line=line, invoice=invoice, actor=actor, overpayment_to_credit=overpayment_to_credit
                )
            )
        except ApplicationError as exc:
            result.refused.append((line, exc.message))
    return result


@transaction.atomic
def line_ignore(*, line, note: str, actor=None) -> BankStatementLine:
    """Not a customer's payment (an interest credit, a refund from a supplier): kept, marked ignored, with why."""
    line = BankStatementLine.objects.select_for_update().get(pk=line.pk)
    line_status_set(line, BankStatementLine.Status.IGNORED, actor=actor, note=note)
    audit_record(action="transfer.line_ignored", actor=actor, data={"line": line.pk, "note": note})
    return line


def lines_needing_attention():
    """Unapplied lines (unmatched, or not confirmed yet), oldest first."""
    return BankStatementLine.objects.filter(status=BankStatementLine.Status.UNAPPLIED).select_related(
        "statement"
    )


def partial_payments():
    """Invoices still open although a transfer was applied to them (underpaid), with what was received."""
    return [invoice for invoice in open_transfer_invoices() if invoice.received > 0]


def overpayments_without_credit():
    """Applied lines whose excess was neither used nor kept as credit (to refund or credit by hand)."""
    return TransferPayment.objects.filter(
        credit__isnull=True, invoice__isnull=False, amount__lt=F("line__amount")
    ).select_related("line", "invoice", "tenant")
