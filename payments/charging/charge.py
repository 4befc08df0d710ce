"""Charging issued invoices: from the 5th of the billing month, retries after 3, 5 and 7 days, one live
payment per invoice (writes)."""

import logging
from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from billing_portal.common import clock
from payments.charging.attempts import (
    PaymentMismatch,
    payment_attempt_create,
    payment_lock_for_send,
    payment_send,
)
from payments.charging.gateway import PaymentGatewayError
from payments.events import invoice_event
from payments.invoicing.cycle import RETRY_AFTER_DAYS
from payments.invoicing.documents import invoice_status_set
from payments.models import Invoice, Payment
from payments.notifications import notify_payment_failed, notify_payment_succeeded

logger = logging.getLogger(__name__)


class ChargeOutcome:
    PAID = "paid"
    FAILED = "failed"
    ACTION_REQUIRED = "action_required"
    IN_FLIGHT = "in_flight"  # another process is charging this invoice right now
    UNKNOWN = "unknown"  # Stripe could not be reached: the attempt stays pending and the sweeper resumes it
    SKIPPED = "skipped"


def invoices_due_for_charge(*, at, tenant=None):
    """Card invoices due by `at`: one tenant's, or every tenant's but test tenants' (their test clock runs them)."""
    due = Invoice.objects.filter(
        payment_method=Invoice.PaymentMethod.CARD,
        status__in=[Invoice.Status.PENDING, Invoice.Status.FAILED],
        next_attempt_at__isnull=False,
        next_attempt_at__lte=at,
        payment_amount__gt=0,
    )
    due = due.filter(tenant=tenant) if tenant is not None else due.filter(tenant__test_clock__isnull=True)
    return due.order_by("next_attempt_at", "pk")


def invoice_charge(*, invoice, at=None) -> str:
    """Charge one card invoice off-session: at most one charge, however many runs, retries and crashes.

    Under the invoice's row lock: an invoice with a successful attempt is paid (never charged again); one with a
    pending attempt (a run killed mid-call, Stripe unreachable) resumes that attempt with its own idempotency
    key; otherwise, when due, attempt n+1 (`invoice-<id>-attempt-<n>`) is committed before Stripe hears of it.
    The database allows one live attempt per invoice. Stripe is then called holding the attempt's row lock,
    and the outcome and the invoice's bookkeeping are committed together.
    """
    at = at or clock.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=invoice.pk)
        if invoice.status in (Invoice.Status.SUCCESSFUL, Invoice.Status.VOID) or (
            invoice.payment_method != Invoice.PaymentMethod.CARD
        ):
            return ChargeOutcome.SKIPPED
        live = invoice.payments.filter(status__in=Payment.LIVE_STATUSES).first()
        if live is not None and live.status == Payment.Status.SUCCESSFUL:
            _mark_paid(invoice, payment=live)
            return ChargeOutcome.PAID
        if live is not None and live.status == Payment.Status.REQUIRES_ACTION:
            return ChargeOutcome.ACTION_REQUIRED  # the customer confirms it with their bank (3-D Secure page)
        if live is not None:
            payment, resume = live, True
        else:
            if (
                invoice.status not in (Invoice.Status.PENDING, Invoice.Status.FAILED)
                or invoice.next_attempt_at is None
                or invoice.next_attempt_at > at
                or invoice.payment_amount <= 0
            ):
                return ChargeOutcome.SKIPPED
            invoice.attempt_count += 1
            invoice.save(update_fields=["attempt_count"])
            payment, _created = payment_attempt_create(
                tenant=invoice.tenant,
                amount_minor=invoice.payment_amount,
                currency=invoice.currency,
                idempotency_key=f"invoice-{invoice.pk}-attempt-{invoice.attempt_count}",
                description=f"Invoice {invoice.number}",
                invoice=invoice,
            )
            resume = False
    return payment_attempt_finish(payment=payment, resume=resume, at=at)


_OUTCOME_OF_STATUS = {
    Payment.Status.SUCCESSFUL: ChargeOutcome.PAID,
    Payment.Status.FAILED: ChargeOutcome.FAILED,
    Payment.Status.REQUIRES_ACTION: ChargeOutcome.ACTION_REQUIRED,
    Payment.Status.PENDING: ChargeOutcome.UNKNOWN,
}


def payment_attempt_finish(*, payment, resume: bool, at=None) -> str:
    """Send (or resume) a pending attempt and settle its invoice in the same transaction as the outcome."""
    at = at or clock.now()
    try:
        with transaction.atomic():
            locked = payment_lock_for_send(payment=payment)
            if locked is None:
                return ChargeOutcome.IN_FLIGHT
            before = locked.status
            locked = payment_send(payment=locked, resume=resume)
            if locked.invoice_id is None:
                return _OUTCOME_OF_STATUS[locked.status]
            return payment_settle_invoice(payment=locked, previous_status=before, at=at)
    except PaymentGatewayError as exc:
        logger.warning(
            "Charging %s: outcome unknown (%s); the sweeper resumes it", payment.idempotency_key, exc.message
        )
        return ChargeOutcome.UNKNOWN


def _mark_paid(invoice, *, payment) -> None:
    """Within the caller's transaction and the invoice's row lock: the invoice is paid (once), by this payment."""
    if payment.amount_minor != invoice.payment_amount or payment.currency != invoice.currency:
        raise PaymentMismatch(
            f"Payment {payment.idempotency_key} is {payment.amount_minor} {payment.currency}, but invoice "
            f"{invoice.number} is {invoice.payment_amount} {invoice.currency}."
        )
    invoice_status_set(invoice, Invoice.Status.SUCCESSFUL, paid_at=clock.now())
    audit_record(
        action="invoice.paid",
        tenant=invoice.tenant,
        data={
            "number": invoice.number,
            "method": "card",
            "amount": invoice.payment_amount,
            "attempt": invoice.attempt_count,
            "payment": payment.idempotency_key,
        },
    )
    invoice_event("invoice.paid", invoice)
    transaction.on_commit(lambda: notify_payment_succeeded(invoice=invoice))


def payment_settle_invoice(*, payment, previous_status: str, at=None) -> str:
    """Within the transaction that changed the attempt's status (charge run, sweeper, webhook, 3-D Secure page):
    the invoice follows. Successful → paid; a pending attempt that failed or needs authentication → the
    invoice failed, with its next retry and the e-mail. Anything else changes nothing."""
    at = at or clock.now()
    invoice = (
        Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=payment.invoice_id)
    )
    if payment.status == Payment.Status.SUCCESSFUL:
        if invoice.status != Invoice.Status.SUCCESSFUL:
            _mark_paid(invoice, payment=payment)
        return ChargeOutcome.PAID
    if invoice.status == Invoice.Status.SUCCESSFUL:
        return ChargeOutcome.PAID
    if payment.status == Payment.Status.PENDING:
        return ChargeOutcome.UNKNOWN
    if previous_status != Payment.Status.PENDING:
        return (
            ChargeOutcome.ACTION_REQUIRED
            if payment.status == Payment.Status.REQUIRES_ACTION
            else ChargeOutcome.FAILED
        )
    retries_done = invoice.attempt_count - 1
    # The retry schedule is anchored on the first failure, on the tenant's clock (a test clock's time, if any).
    first_failure = (
        invoice.next_attempt_at - timedelta(days=RETRY_AFTER_DAYS[retries_done - 1])
        if 0 < retries_done <= len(RETRY_AFTER_DAYS) and invoice.next_attempt_at
        else clock.now()
    )
    if payment.status == Payment.Status.REQUIRES_ACTION:
        # The customer must confirm with their bank; automatic retries would fail the same way.
        next_at = None
    elif retries_done < len(RETRY_AFTER_DAYS):
        next_at = first_failure + timedelta(days=RETRY_AFTER_DAYS[retries_done])
    else:
        next_at = None
    invoice_status_set(invoice, Invoice.Status.FAILED, next_attempt_at=next_at)
    audit_record(
        action="invoice.payment_failed",
        tenant=invoice.tenant,
        data={
            "number": invoice.number,
            "attempt": invoice.attempt_count,
            "reason": payment.failure_message,
            "next_attempt_at": next_at.isoformat() if next_at else None,
        },
    )
    invoice_event(
        "invoice.payment_failed",
        invoice,
        reason=payment.failure_message,
        next_attempt_at=next_at.isoformat() if next_at else None,
    )
    action_path = None
    if payment.status == Payment.Status.REQUIRES_ACTION:
        from django.urls import reverse

        action_path = reverse("invoice_pay", args=[invoice.tenant.slug, invoice.receipt_id])
    reason = payment.failure_message or _("The payment failed.")
    transaction.on_commit(
        lambda: notify_payment_failed(
            invoice=invoice,
            reason=reason,
            next_attempt_at=next_at,
            action_path=action_path,
        )
    )
    return ChargeOutcome.ACTION_REQUIRED if action_path else ChargeOutcome.FAILED


def invoices_charge_due(*, at=None, progress=None) -> Counter:
    """One charge run (`charge_due_invoices`, the hourly tick, the sweeper): every card invoice due by `at`."""
    at = at or clock.now()
    invoices = list(invoices_due_for_charge(at=at))
    outcomes = Counter()
    for invoice in progress(invoices) if progress else invoices:
        outcomes[invoice_charge(invoice=invoice, at=at)] += 1
    return outcomes
