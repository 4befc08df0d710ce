"""Invoicing's own task (registered with the worker by payments/tasks.py, under its old name)."""

from celery import shared_task

from payments.models import Invoice
from payments.notifications import notify_invoice_issued


@shared_task(name="payments.tasks.send_invoice_issued_email")
def send_invoice_issued_email(invoice_id: int):
    notify_invoice_issued(
        invoice=Invoice.objects.select_related("tenant__payment_administrator").get(pk=invoice_id)
    )
