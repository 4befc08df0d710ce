"""The sweeper: finishes whatever a crash, a lost queue message or a lost webhook left half done."""

from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.db.models import Q

from accounts.models import Tenant
from billing_portal.common import clock
from licenses.models import ProrationItem
from payments.charging.charge import invoices_charge_due, payment_attempt_finish, payment_settle_invoice
from payments.invoicing.cycle import immediate_invoices_issue
from payments.models import Invoice, Payment, StripeEvent

WEBHOOK_REPROCESS_ATTEMPTS = 5


def payments_sweep(*, at=None) -> Counter:
    """Finish whatever a crash, an outage or a lost queue message left behind (beat, every few minutes; safe to
    run at any time and concurrently with everything else, since each step is idempotent under its row locks):

    1. plan changes to be invoiced at once whose task never ran (the broker was down, the worker died);
    2. attempts whose outcome is unknown (a process killed while charging, Stripe unreachable): looked up at
       Stripe by their metadata, or sent again with their own idempotency key, and their invoice settled;
    3. successful attempts whose invoice is not marked paid (repair; the charge path commits both together);
    4. card invoices due for a charge or a retry;
    5. refunds whose answer was lost, sent again with their own key;
    6. Stripe webhooks whose processing failed (up to WEBHOOK_REPROCESS_ATTEMPTS times) or never finished.
    """
    from payments.charging.stripe_events import stripe_event_process

    at = at or clock.now()
    report = Counter()
    tenant_ids = (
        ProrationItem.objects.filter(
            status=ProrationItem.Status.PENDING,
            billing=ProrationItem.Billing.IMMEDIATE,
            tenant__test_clock__isnull=True,
        )
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    for tenant in Tenant.objects.filter(pk__in=list(tenant_ids)):
        report["invoices_issued"] += len(immediate_invoices_issue(tenant=tenant))
    for payment in Payment.objects.filter(
        status=Payment.Status.PENDING, tenant__test_clock__isnull=True
    ).order_by("pk"):
        report[f"resumed_{payment_attempt_finish(payment=payment, resume=True, at=at)}"] += 1
    for payment in Payment.objects.filter(
        status=Payment.Status.SUCCESSFUL, invoice__status__in=[Invoice.Status.PENDING, Invoice.Status.FAILED]
    ):
        with transaction.atomic():
            locked = Payment.objects.select_for_update().get(pk=payment.pk)
            payment_settle_invoice(payment=locked, previous_status=locked.status, at=at)
        report["repaired_paid"] += 1
    for outcome, count in invoices_charge_due(at=max(at, clock.now())).items():  # incl. those just issued
        report[f"charged_{outcome}"] += count
    from payments.charging.refunds import refunds_resume

    report["refunds_resent"] += refunds_resume()
    # Failed ones, and ones stored but never processed (the web process died mid-way) after a minute.
    stale = at - timedelta(minutes=1)
    events = StripeEvent.objects.filter(
        Q(status=StripeEvent.Status.FAILED, attempts__lt=WEBHOOK_REPROCESS_ATTEMPTS)
        | Q(status=StripeEvent.Status.RECEIVED, received_at__lt=stale)
    ).order_by("received_at")
    for event in events:
        report[f"webhook_{stripe_event_process(event=event).status}"] += 1
    return report
