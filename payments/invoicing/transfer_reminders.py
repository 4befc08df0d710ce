"""Reminder e-mails about unpaid bank-transfer invoices (writes), at a fixed schedule around the due date, in
each tenant's calendar: 3 days before, on the due date, 7 and 14 days after. Each step is sent at most once per
invoice (`TransferReminder`, unique on invoice and step); a step missed (the invoice was issued later, beat was
down) is not sent late once a later step is due: only the latest due step goes out."""

from datetime import timedelta

from django.db import IntegrityError, transaction

from billing_portal.common import clock
from payments.invoicing.transfers import open_transfer_invoices
from payments.models import Invoice, TransferReminder

Step = TransferReminder.Step
SCHEDULE = ((Step.BEFORE_DUE, -3), (Step.DUE, 0), (Step.OVERDUE_7, 7), (Step.OVERDUE_14, 14))
_ORDER = [step for step, _days in SCHEDULE]


def reminder_step_due(*, due_date, today) -> str | None:
    """The latest step of the schedule whose day has come, or None before the first."""
    latest = None
    for step, days in SCHEDULE:
        if today >= due_date + timedelta(days=days):
            latest = step
    return latest


def reminders_due(*, at=None) -> list[tuple[int, str]]:
    """(invoice id, step) to send now: open bank-transfer invoices with a due date whose latest due step (and no
    later one) has not been sent. Test tenants are left to their test clocks."""
    at = at or clock.now()
    invoices = [invoice for invoice in open_transfer_invoices(live_only=True) if invoice.due_date is not None]
    sent: dict[int, set] = {}
    for invoice_id, step in TransferReminder.objects.filter(
        invoice_id__in=[i.pk for i in invoices]
    ).values_list("invoice_id", "step"):
        sent.setdefault(invoice_id, set()).add(step)
    due = []
    for invoice in invoices:
        today = clock.local_date(at, invoice.tenant.time_zone)
        step = reminder_step_due(due_date=invoice.due_date, today=today)
        if step is None:
            continue
        later_or_same = set(_ORDER[_ORDER.index(step) :])
        if not (sent.get(invoice.pk, set()) & later_or_same):
            due.append((invoice.pk, step))
    return due


def transfer_reminder_send(*, invoice_id: int, step: str, at=None) -> TransferReminder | None:
    """Record the step and e-mail the payment administrator after commit; None when it was sent already or the
    invoice is paid (or otherwise no longer open) by now."""
    from payments.notifications import notify_transfer_reminder

    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("tenant__payment_administrator")
            .get(pk=invoice_id)
        )
        if (
            invoice.status != Invoice.Status.PENDING
            or invoice.payment_method != Invoice.PaymentMethod.BANK_TRANSFER
        ):
            return None
        try:
            with transaction.atomic():
                reminder = TransferReminder.objects.create(
                    invoice=invoice, tenant=invoice.tenant, step=step, sent_at=at or clock.now()
                )
        except IntegrityError:
            return None
        transaction.on_commit(lambda: notify_transfer_reminder(invoice=invoice, step=step))
    return reminder
