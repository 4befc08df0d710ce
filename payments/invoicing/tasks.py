"""Invoicing's own tasks (registered with the worker by payments/tasks.py, under payments.tasks names)."""

from celery import shared_task

from payments.invoicing import archive
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


@shared_task(name="payments.tasks.archive_document", acks_late=True)
def archive_document(invoice_id: int, kind: str):
    """Store an issued document's PDF in the archive (idempotent: a retry finds it stored)."""
    archive.document_archive(invoice=Invoice(pk=invoice_id), kind=kind)


@shared_task(name="payments.tasks.archive_documents", acks_late=True)
def archive_documents(invoice_ids: list[int], kind: str):
    """The set-based monthly run's batch: each invoice's document archived as `archive_document` does."""
    for invoice_id in invoice_ids:
        archive.document_archive(invoice=Invoice(pk=invoice_id), kind=kind)
