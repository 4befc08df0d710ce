"""Receipts (領収書): the "receipt" document of payments.invoicing.pdf, only for paid invoices."""

from payments.invoicing.pdf import (  # noqa: F401 - FetchRefused and refuse_fetch kept for callers
    DocumentNotAvailable,
    FetchRefused,
    document_html,
    document_pdf,
    document_response,
    refuse_fetch,
)


def receipt_html(*, invoice, language=None) -> str:
    return document_html(invoice=invoice, kind="receipt", language=language)


def receipt_pdf(*, invoice, language=None) -> bytes:
    """The receipt PDF; raises DocumentNotAvailable (404) while the invoice is not paid."""
    return document_pdf(invoice=invoice, kind="receipt", language=language)


def receipt_response(*, invoice, language=None):
    """The receipt as a PDF download (portal page and operator API)."""
    return document_response(invoice=invoice, kind="receipt", language=language)
