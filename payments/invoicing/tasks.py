"""Invoicing's own task (registered with the worker by payments/tasks.py, under its old name)."""

from celery import shared_task

from payments.models import Invoice
from payments.notifications import notify_invoice_issued


@shared_task(name="payments.tasks.send_invoice_issued_email")
def send_invoice_issued_email(invoice_id: int):
    notify_invoice_issued(
        invoice=Invoice.objects.select_related("tenant__payment_administrator").get(pk=invoice_id)
    )


@shared_task(name="payments.tasks.send_invoice_issued_emails")
def send_invoice_issued_emails(invoice_ids: list[int]):
    """The set-based monthly run queues one message per batch of invoices instead of one per invoice."""
    for invoice in Invoice.objects.select_related("tenant__payment_administrator").filter(pk__in=invoice_ids):
        notify_invoice_issued(invoice=invoice)
