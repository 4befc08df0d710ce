"""Corrections of an unpaid invoice: void it, or void and reissue it corrected (writes)."""

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError, Conflict
from payments.invoicing.documents import invoice_issue, invoice_status_set
from payments.models import Credit, Invoice, Payment


def invoice_reissue(*, invoice, lines: list[dict], reason: str, actor=None) -> Invoice:
    """Void an unpaid invoice and issue its corrected replacement in one transaction. `lines`: dicts with
    description and amount (minor units). The void invoice stays readable and points to the new one."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the invoice is reissued."), code="reason_required")
    if not lines or any(
        not (line.get("description") or "").strip() or not isinstance(line.get("amount"), int)
        for line in lines
    ):
        raise ApplicationError(
            _(
                "Give the corrected invoice at least one line, each with a description and a "
                "whole amount in minor units."
            ),
            code="bad_lines",
        )
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=invoice.pk)
        if invoice.kind == Invoice.Kind.CREDIT_NOTE:
            raise ApplicationError(_("A credit note is not reissued."), code="credit_note")
        if invoice.status not in (Invoice.Status.PENDING, Invoice.Status.FAILED):
            raise Conflict(
                _(
                    "An invoice whose status is %(status)s cannot be reissued; correct a paid one with a "
                    "credit note or a refund."
                )
                % {"status": invoice.get_status_display().lower()},
                code="not_reissuable",
            )
        if invoice.payments.filter(
            status__in=[Payment.Status.PENDING, Payment.Status.REQUIRES_ACTION]
        ).exists():
            raise Conflict(
                _(
                    "A payment of this invoice is in progress (or waiting for the customer's 3-D Secure "
                    "confirmation); reissue it once that is settled."
                ),
                code="payment_in_progress",
            )
        invoice_void(invoice=invoice)
        for application in invoice.credit_applications.all():
            Credit.objects.filter(pk=application.credit_id).update(
                amount_used=F("amount_used") - application.amount
            )
        card = invoice.payment_method == Invoice.PaymentMethod.CARD
        replacement = invoice_issue(
            tenant=invoice.tenant,
            kind=invoice.kind,
            source_key=f"reissue-{invoice.pk}",
            lines=[
                {"description": line["description"].strip()[:300], "amount": line["amount"]} for line in lines
            ],
            billing_date=invoice.billing_date,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            payment_method=invoice.payment_method,
            charge_at=max(invoice.next_attempt_at or clock.now(), clock.now()) if card else None,
        )
        Invoice.objects.filter(pk=invoice.pk).update(replaced_by=replacement)
        audit_record(
            action="invoice.reissued",
            tenant=invoice.tenant,
            actor=actor,
            data={
                "void": invoice.number,
                "replacement": replacement.number,
                "reason": reason,
                "old_amount": invoice.payment_amount,
                "new_amount": replacement.payment_amount,
            },
        )
    return replacement


def invoice_void(*, invoice) -> Invoice:
    """Within the caller's transaction and the invoice's lock: an unpaid invoice becomes void (no more charges)."""
    return invoice_status_set(invoice, Invoice.Status.VOID, next_attempt_at=None)
