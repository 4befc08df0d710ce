"""Disputes (chargebacks) reported by Stripe (writes)."""

import logging

from django.core.mail import mail_admins
from django.db import transaction

from accounts.audit import audit_record
from billing_portal.common import clock
from billing_portal.common.money import format_money
from payments.charging import gateway as stripe_gateway
from payments.models import Dispute, Invoice, Payment
from payments.notifications import notify_dispute_opened

logger = logging.getLogger(__name__)


def on_dispute(obj: dict) -> None:
    """A dispute opened or changed: keep Stripe's state, mark the invoice, and on opening tell ops and the
    payment administrator."""
    remote = stripe_gateway.dispute_retrieve(dispute_id=obj["id"])
    payment = (
        Payment.objects.filter(stripe_payment_intent_id=remote["payment_intent"] or "")
        .select_related("invoice", "tenant")
        .first()
    )
    if payment is None:
        logger.warning("Dispute %s for a charge the portal does not know", remote["id"])
        return
    dispute, created = Dispute.objects.select_for_update().get_or_create(
        stripe_dispute_id=remote["id"],
        defaults={
            "tenant": payment.tenant,
            "invoice": payment.invoice,
            "amount_minor": remote["amount"],
            "currency": remote["currency"],
            "reason": remote["reason"],
            "status": remote["status"],
            "stripe_payment_intent_id": remote["payment_intent"] or "",
            "opened_at": clock.now(),
        },
    )
    if not created:
        Dispute.objects.filter(pk=dispute.pk).update(status=remote["status"], amount_minor=remote["amount"])
    if payment.invoice_id:
        Invoice.objects.filter(pk=payment.invoice_id).update(disputed=True)
    audit_record(
        action="invoice.dispute_opened" if created else "invoice.dispute_updated",
        tenant=payment.tenant,
        data={
            "dispute": remote["id"],
            "status": remote["status"],
            "amount": remote["amount"],
            "invoice": payment.invoice.number if payment.invoice else None,
        },
    )
    if created:
        invoice = payment.invoice
        subject = (
            f"Dispute {remote['id']} opened: {payment.tenant.name}, "
            f"{format_money(remote['amount'], remote['currency'])} ({remote['reason']})"
        )
        transaction.on_commit(
            lambda: mail_admins(
                subject,
                f"{subject}\nInvoice: {invoice.number if invoice else '-'}\n"
                "Respond in the Stripe dashboard before the deadline.",
            )
        )
        if invoice is not None:
            transaction.on_commit(lambda: notify_dispute_opened(invoice=invoice, dispute=dispute))
