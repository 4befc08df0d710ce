"""Collecting failed invoices (writes): "Pay now" on the dashboard and billing page, and the retry when a new
card is registered. Charging itself stays in `billing_cycle.invoice_charge` (one Payment row per attempt,
committed under the invoice's lock before Stripe is called), so a double click never charges twice."""

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError, Conflict
from payments.charging.charge import ChargeOutcome, invoice_charge
from payments.models import Invoice, Payment


def open_invoices(*, tenant):
    """Card invoices whose payment failed (or waits for 3-D Secure), oldest first, with their last attempt."""
    invoices = list(
        Invoice.objects.filter(
            tenant=tenant,
            status=Invoice.Status.FAILED,
            payment_method=Invoice.PaymentMethod.CARD,
            payment_amount__gt=0,
        ).order_by("billing_date", "pk")
    )
    for invoice in invoices:
        invoice.last_payment = invoice.payments.order_by("-created_at", "-pk").first()
        invoice.needs_authentication = bool(
            invoice.last_payment
            and invoice.last_payment.status == Payment.Status.REQUIRES_ACTION
            and invoice.last_payment.stripe_payment_intent_id
        )
    return invoices


def invoice_pay_now(*, tenant, invoice, actor=None, use_new_card=False) -> dict:
    """Charge a failed card invoice now with the current default card.

    When the bank asked for 3-D Secure on the last attempt (and no new card was registered since), charging again
    off-session would fail the same way: the answer points to the authentication page instead.
    Returns {"outcome": ChargeOutcome…, "redirect": url or None, "message": text}.
    """
    if invoice.tenant_id != tenant.pk:
        raise ApplicationError(_("No such invoice."), code="not_found", status=404)
    now = clock.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status == Invoice.Status.SUCCESSFUL:
            return {
                "outcome": ChargeOutcome.PAID,
                "redirect": None,
                "message": _("Invoice %(number)s is paid.") % {"number": invoice.number},
            }
        if invoice.status != Invoice.Status.FAILED or invoice.payment_method != Invoice.PaymentMethod.CARD:
            raise Conflict(
                _("Invoice %(number)s is not waiting for a card payment.") % {"number": invoice.number},
                code="not_payable",
            )
        last = invoice.payments.order_by("-created_at", "-pk").first()
        if last is not None and last.status == Payment.Status.PENDING:
            raise Conflict(
                _("A payment of this invoice is still being processed; try again in a few minutes."),
                code="payment_pending",
            )
        if (
            not use_new_card
            and last is not None
            and last.status == Payment.Status.REQUIRES_ACTION
            and last.stripe_payment_intent_id
        ):
            return {
                "outcome": ChargeOutcome.ACTION_REQUIRED,
                "redirect": reverse("invoice_pay", args=[tenant.slug, invoice.receipt_id]),
                "message": _("Your bank asks you to confirm this payment."),
            }
        invoice.next_attempt_at = now  # due at once; the attempt itself is counted by invoice_charge
        invoice.save(update_fields=["next_attempt_at"])
        audit_record(
            action="invoice.pay_now",
            tenant=tenant,
            actor=actor,
            data={"number": invoice.number, "new_card": use_new_card},
        )
    outcome = invoice_charge(invoice=invoice, at=now)
    invoice.refresh_from_db()
    last = invoice.payments.order_by("-created_at", "-pk").first()
    if outcome == ChargeOutcome.PAID:
        message = _("Thank you: invoice %(number)s is paid.") % {"number": invoice.number}
    elif outcome == ChargeOutcome.ACTION_REQUIRED:
        return {
            "outcome": outcome,
            "redirect": reverse("invoice_pay", args=[tenant.slug, invoice.receipt_id]),
            "message": _("Your bank asks you to confirm this payment."),
        }
    else:
        message = _("The payment of invoice %(number)s failed: %(reason)s") % {
            "number": invoice.number,
            "reason": _(last.failure_message) if last and last.failure_message else _("try again."),
        }
    return {"outcome": outcome, "redirect": None, "message": message}


def open_invoices_retry(*, tenant, actor=None) -> list[dict]:
    """After a new card is registered: charge every failed invoice with it at once."""
    return [
        invoice_pay_now(tenant=tenant, invoice=invoice, actor=actor, use_new_card=True)
        for invoice in open_invoices(tenant=tenant)
    ]
