"""The e-bookkeeping archive (電子帳簿保存法, docs/archive.md): each issued document's PDF stored once, when it is
issued, with its SHA-256 (writes).

Invoices are archived when they are issued, receipts when the invoice becomes paid (card and bank transfer alike:
both go through documents.invoice_status_set), credit notes when they are issued. The PDF is rendered by a task
after the commit (`archive_on_commit`), so issuing stays fast; the unique (kind, invoice) makes every run after
the first a no-op, and a download before the task ran archives on demand. Stored rows are never changed."""

import hashlib
from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError
from payments.models import ArchivedDocument, Invoice

Kind = ArchivedDocument.Kind


def document_kind(invoice: Invoice) -> str:
    """The document a download of `invoice` gives: a credit note, the receipt once paid, else the invoice."""
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        return Kind.CREDIT_NOTE
    if invoice.status == Invoice.Status.SUCCESSFUL:
        return Kind.RECEIPT
    return Kind.INVOICE


def _check_kind(invoice: Invoice, kind: str) -> None:
    if kind not in Kind.values:
        raise ApplicationError(_("Unknown document type."), code="bad_document_kind")
    is_credit_note = invoice.kind == Invoice.Kind.CREDIT_NOTE
    if (kind == Kind.CREDIT_NOTE) != is_credit_note:
        raise ApplicationError(
            _("A credit note is archived as a credit note, an invoice as an invoice or receipt."),
            code="bad_document_kind",
        )
    if kind == Kind.RECEIPT and invoice.status != Invoice.Status.SUCCESSFUL:
        raise ApplicationError(_("A receipt is issued only once the invoice is paid."), code="not_paid")


def _issue_date(invoice: Invoice, kind: str):
    """The receipt is issued on the payment date, the others on their issue date; in the tenant's calendar."""
    instant = invoice.paid_at if kind == Kind.RECEIPT else invoice.issued_at
    return clock.local_date(instant, invoice.tenant.time_zone)


def document_archive(*, invoice: Invoice, kind: str) -> ArchivedDocument:
    """Store `invoice`'s document of `kind` once and return it; when it is stored already (a retried task, a
    download, a concurrent run), the stored row is returned and nothing is rendered or written again."""
    existing = ArchivedDocument.objects.filter(kind=kind, invoice_id=invoice.pk).first()
    if existing is not None:
        return existing
    # The committed state of the invoice, not the caller's copy.
    invoice = Invoice.objects.select_related("tenant").get(pk=invoice.pk)
    _check_kind(invoice, kind)
    # Imported at call time: the renderer imports documents, which imports this module.
    from payments.invoicing import pdf as renderer

    language = renderer.document_language(invoice=invoice)
    pdf = renderer.document_pdf(invoice=invoice, kind=kind, language=language)
    digest = hashlib.sha256(pdf).hexdigest()
    try:
        with transaction.atomic():
            document = ArchivedDocument.objects.create(
                kind=kind,
                tenant=invoice.tenant,
                invoice=invoice,
                number=invoice.number,
                issue_date=_issue_date(invoice, kind),
                counterparty_name=invoice.buyer_name,
                amount=invoice.payment_amount,
                currency=invoice.currency,
                language=language,
                pdf=pdf,
                sha256=digest,
            )
            audit_record(
                action="document.archived",
                tenant=invoice.tenant,
                data={"kind": kind, "number": invoice.number, "sha256": digest, "bytes": len(pdf)},
            )
    except IntegrityError:
        # Another run stored it first (unique kind + invoice): theirs is the document, ours is dropped.
        existing = ArchivedDocument.objects.filter(kind=kind, invoice_id=invoice.pk).first()
        if existing is None:
            raise
        return existing
    return document


def document_for_download(*, invoice: Invoice) -> ArchivedDocument:
    """The stored document a download of `invoice` serves (archived now if its task has not run yet)."""
    return document_archive(invoice=invoice, kind=document_kind(invoice))


def archive_on_commit(invoice: Invoice, kind: str) -> None:
    """Archive the document in a task once the caller's transaction commits (nothing for a rolled-back one)."""
    from billing_portal.common.queue import enqueue_on_commit
    from payments.invoicing.tasks import archive_document

    enqueue_on_commit(archive_document, invoice.pk, str(kind))


def documents_to_archive(*, since) -> list[tuple[int, str]]:
    """(invoice id, kind) of documents issued since `since` that have no archive row yet: what a lost task
    message left (the sweep archives them). Older history is not back-filled here."""
    pending = []
    recent = Invoice.objects.filter(issued_at__gte=since)
    for kind, invoices in (
        (Kind.INVOICE, recent.exclude(kind=Invoice.Kind.CREDIT_NOTE)),
        (Kind.CREDIT_NOTE, recent.filter(kind=Invoice.Kind.CREDIT_NOTE)),
        (
            Kind.RECEIPT,
            Invoice.objects.filter(paid_at__gte=since, status=Invoice.Status.SUCCESSFUL).exclude(
                kind=Invoice.Kind.CREDIT_NOTE
            ),
        ),
    ):
        missing = invoices.exclude(archived_documents__kind=kind).values_list("pk", flat=True)
        pending.extend((pk, str(kind)) for pk in missing)
    return pending


def documents_archive_missing(*, since) -> int:
    """Archive what `documents_to_archive` finds; returns how many were stored."""
    count = 0
    for invoice_id, kind in documents_to_archive(since=since):
        document_archive(invoice=Invoice(pk=invoice_id), kind=kind)
        count += 1
    return count


def retention_until(document: ArchivedDocument):
    """The last day the document must at least be kept: the end of the calendar year DOCUMENT_RETENTION_YEARS + 1
    years after its issue year. That outlasts the legal period (from the day after the corporate-tax filing
    deadline of the fiscal year holding the issue date) for any fiscal year end. Nothing is deleted automatically,
    then or later (docs/archive.md)."""
    return date(document.issue_date.year + settings.DOCUMENT_RETENTION_YEARS + 1, 12, 31)
