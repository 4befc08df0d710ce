"""The PDF of an issued document: invoice (請求書), receipt (領収書) or credit note (適格返還請求書).

Placeholder: every kind is the existing receipt layout (payments.invoicing.receipts.receipt_pdf) rendered in the
given language. The real renderer (qualified-invoice items, the bundled Japanese font, one layout per kind)
replaces this module with the same signature; the archive (payments.invoicing.archive) only calls
`document_pdf`."""

from django.utils import translation

from payments.invoicing import receipts

KINDS = ("invoice", "receipt", "credit_note")


def document_pdf(*, invoice, kind, language=None) -> bytes:
    """The PDF bytes of `invoice` as a document of `kind` (one of KINDS), in `language` (None: the current one)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown document kind {kind!r}")
    if language is None:
        return receipts.receipt_pdf(invoice=invoice)
    with translation.override(language):
        return receipts.receipt_pdf(invoice=invoice)
