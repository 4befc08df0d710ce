"""Celery tasks of the billing cycle: thin, take ids, call one service. Beat fans out one task per tenant/invoice."""

from zoneinfo import ZoneInfo

from celery import shared_task

from accounts.models import Tenant
from billing_portal.common import clock
from billing_portal.common.queue import enqueue
from payments.charging import charge, sweep
from payments.invoicing import cycle

from .invoicing.tasks import (  # noqa: F401 - registered with the worker here
    archive_document,
    archive_documents,
    send_invoice_issued_email,
    send_invoice_issued_emails,
)
from .models import Invoice


@shared_task
def billing_cycle_tick():
    """Hourly: every tenant whose month (in its time zone) has begun without its invoice gets one: one task per
    batch of tenants due for the same month (the set-based run, payments.invoicing.monthly_run)."""
    from payments.invoicing.monthly_run import BATCH_SIZE

    for (year, month), ids in sorted(cycle.monthly_invoices_due(at=clock.now()).items()):
        for i in range(0, len(ids), BATCH_SIZE):
            enqueue(monthly_invoices_for_tenants, sorted(ids)[i : i + BATCH_SIZE], year, month)


@shared_task(acks_late=True)
def monthly_invoices_for_tenants(tenant_ids: list[int], year: int, month: int):
    from payments.invoicing.monthly_run import monthly_invoices_run

    return monthly_invoices_run(tenant_ids=tenant_ids, year=year, month=month)


@shared_task(acks_late=True)
def monthly_invoice_for_tenant(tenant_id: int):  # one tenant (messages queued before the batch task existed)
    from payments.invoicing.late_usage import grace

    tenant = Tenant.objects.get(pk=tenant_id)
    local = (clock.now() - grace()).astimezone(ZoneInfo(tenant.time_zone))  # the grace for late events
    cycle.monthly_invoice_issue(tenant=tenant, year=local.year, month=local.month)


@shared_task
def charge_due_tick():
    """Hourly: card invoices whose charge date (the 5th, or a retry date) has come."""
    for invoice_id in charge.invoices_due_for_charge(at=clock.now()).values_list("pk", flat=True):
        enqueue(charge_invoice, invoice_id)


@shared_task(acks_late=True)
def charge_invoice(invoice_id: int):
    charge.invoice_charge(invoice=Invoice.objects.get(pk=invoice_id))


@shared_task(acks_late=True)
def bill_plan_change(tenant_id: int):
    """A purchase or an always_invoice change: invoice the difference and charge it now."""
    for invoice in cycle.immediate_invoices_issue(tenant=Tenant.objects.get(pk=tenant_id)):
        if invoice.next_attempt_at is not None:
            enqueue(charge_invoice, invoice.pk)


@shared_task
def payments_sweep_tick():
    """Every 5 minutes: finish what a crash, an outage or a lost message left (see sweep.payments_sweep)."""
    report = sweep.payments_sweep(at=clock.now())
    return dict(report)


@shared_task
def documents_archive_sweep():
    """Every 15 minutes: archive the documents of the last two days whose archive task message was lost."""
    from datetime import timedelta

    from payments.invoicing.archive import documents_archive_missing

    return documents_archive_missing(since=clock.now() - timedelta(days=2))


@shared_task
def transfer_reminders_tick():
    """Hourly: reminder e-mails about unpaid bank-transfer invoices whose next step (3 days before the due date,
    the due date, 7 and 14 days after, in the tenant's calendar) has come; each step once (TransferReminder)."""
    from payments.invoicing.transfer_reminders import reminders_due

    for invoice_id, step in reminders_due(at=clock.now()):
        enqueue(send_transfer_reminder, invoice_id, step)


@shared_task(acks_late=True)
def send_transfer_reminder(invoice_id: int, step: str):
    from payments.invoicing.transfer_reminders import transfer_reminder_send

    transfer_reminder_send(invoice_id=invoice_id, step=step)
