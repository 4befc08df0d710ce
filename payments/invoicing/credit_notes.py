"""Credit notes against an issued invoice (writes)."""

import secrets
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Tenant
from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import allocate, format_money, format_percent, round_tax
from payments.events import invoice_event
from payments.invoicing.archive import archive_on_commit
from payments.invoicing.credits import CODE_ALPHABET, credit_grant
from payments.invoicing.documents import TaxGroup, _next_number, invoice_tax_groups
from payments.models import (
    ArchivedDocument,
    Credit,
    Invoice,
    InvoiceLine,
)


@transaction.atomic
def credit_note_issue(*, invoice, amount: int, reason: str, actor=None, refund=None) -> Invoice:
    """Correct an issued invoice without editing it: a credit note (a return invoice, 適格返還請求書: negative
    amounts, the invoice's tax rates) that refers to it, and the same amount (before tax) as tenant credit for the
    next invoice. On an invoice of several tax rates the amount is shared between them in proportion to their
    lines, and each rate's tax is rounded once (money.allocate, money.round_tax).

    `refund` (payments.corrections): the money went back to the card instead, so no credit is granted and the
    note carries exactly the refund's tax."""
    invoice = Invoice.objects.select_for_update().select_related("tenant").get(pk=invoice.pk)
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        raise ApplicationError(_("A credit note cannot itself be credited."), code="credit_note")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            _("Say why the invoice is corrected; the reason is printed on the credit note."),
            code="reason_required",
        )
    credited = -sum(
        Invoice.objects.filter(source_key__startswith=f"credit-note-{invoice.pk}-").values_list(
            "usage_amount", flat=True
        )
    )
    if amount <= 0 or amount > invoice.usage_amount - credited:
        raise ApplicationError(
            _("The amount must be between 1 and %(max)s (the invoice's usage amount not yet credited).")
            % {"max": format_money(invoice.usage_amount - credited, invoice.currency)},
            code="bad_amount",
        )
    tenant = Tenant.objects.select_for_update(of=("self",)).get(pk=invoice.tenant_id)
    now = clock.now()
    today = clock.local_date(now, tenant.time_zone)  # number year and date in the customer's calendar
    sequence = Invoice.objects.filter(source_key__startswith=f"credit-note-{invoice.pk}-").count() + 1
    groups = _returned_per_rate(
        invoice=invoice, amount=amount, refund_tax=refund.tax_minor if refund else None
    )
    tax = sum(group.tax for group in groups)
    note = Invoice.objects.create(
        tenant=tenant,
        kind=Invoice.Kind.CREDIT_NOTE,
        source_key=f"credit-note-{invoice.pk}-{sequence}",
        number=_next_number(tenant=tenant, year=today.year),
        receipt_id="C" + "".join(secrets.choice(CODE_ALPHABET) for _position in range(15)),
        billing_date=today,
        issued_at=now,
        currency=invoice.currency,
        usage_amount=-amount,
        credit_applied=0,
        determined_amount=-amount,
        tax_rate=invoice.tax_rate,
        tax_amount=-tax,
        tax_breakdown=[
            TaxGroup(
                rate=group.rate, lines_amount=-group.taxable, credit=0, taxable=-group.taxable, tax=-group.tax
            ).as_json()
            for group in groups
        ],
        credited_invoice=invoice,
        payment_amount=-(amount + tax),
        status=Invoice.Status.SUCCESSFUL,
        paid_at=now,
        payment_method=invoice.payment_method,
        seller_name=invoice.seller_name,
        seller_address=invoice.seller_address,
        buyer_name=invoice.buyer_name,
        buyer_address=invoice.buyer_address,
        buyer_email=invoice.buyer_email,
    )
    description = f"{'Refund' if refund is not None else 'Correction'} of invoice {invoice.number}: {reason}"
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=note,
            position=position,
            amount=-group.taxable,
            tax_rate=group.rate,
            description=(
                description if len(groups) == 1 else f"{description} ({format_percent(group.rate)})"
            )[:300],
        )
        for position, group in enumerate(groups, start=1)
    )
    if refund is None:
        credit_grant(
            tenant=tenant,
            name=f"Credit note {note.number}",
            amount_minor=amount,
            currency=invoice.currency,
            source=Credit.Source.MANUAL,
            source_key=f"credit-note-{note.pk}",
        )
    audit_record(
        action="invoice.credit_note",
        tenant=tenant,
        actor=actor,
        data={
            "invoice": invoice.number,
            "credit_note": note.number,
            "amount": amount,
            "reason": reason,
            "refund": refund.idempotency_key if refund is not None else None,
        },
    )
    archive_on_commit(note, ArchivedDocument.Kind.CREDIT_NOTE)  # 電子帳簿保存法: stored as issued
    if refund is not None:  # money went back to the card (payments.corrections): tell the operator's systems
        invoice_event(
            "invoice.refunded",
            invoice,
            refund={
                "amount": refund.amount_minor,
                "tax": refund.tax_minor,
                "currency": refund.currency,
                "reason": reason,
            },
            credit_note={"number": note.number, "amount": amount},
        )
    return note


def _returned_per_rate(*, invoice, amount: int, refund_tax: int | None) -> list[TaxGroup]:
    """The returned amount (before tax) per tax rate of the invoice, with its tax: rounded once per rate, or, for a
    refund whose tax is already fixed, that tax shared in proportion to the rates' own tax."""
    groups = [group for group in invoice_tax_groups(invoice) if group.lines_amount > 0] or invoice_tax_groups(
        invoice
    )[:1]
    shares = allocate(amount, [group.lines_amount for group in groups])
    taxes = [round_tax(Decimal(share) * group.rate) for share, group in zip(shares, groups, strict=True)]
    if refund_tax is not None:
        taxes = allocate(refund_tax, taxes)
    return [
        TaxGroup(rate=group.rate, lines_amount=share, credit=0, taxable=share, tax=tax)
        for group, share, tax in zip(groups, shares, taxes, strict=True)
        if share or len(groups) == 1
    ]
