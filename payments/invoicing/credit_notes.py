"""Credit notes against an issued invoice (writes)."""

import secrets
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Tenant
from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import format_money, round_minor
from payments.events import invoice_event
from payments.invoicing.archive import archive_on_commit
from payments.invoicing.credits import CODE_ALPHABET, credit_grant
from payments.invoicing.documents import _next_number
from payments.models import (
    ArchivedDocument,
    Credit,
    Invoice,
    InvoiceLine,
)


@transaction.atomic
def credit_note_issue(*, invoice, amount: int, reason: str, actor=None, refund=None) -> Invoice:
    """Correct an issued invoice without editing it: a credit note (negative amounts, same tax rate) that refers
    to it, and the same amount (before tax) as tenant credit for the next invoice.

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
    tax = refund.tax_minor if refund is not None else round_minor(Decimal(amount) * invoice.tax_rate)
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
    InvoiceLine.objects.create(
        invoice=note,
        position=1,
        amount=-amount,
        description=f"{'Refund' if refund is not None else 'Correction'} of invoice "
        f"{invoice.number}: {reason}",
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
