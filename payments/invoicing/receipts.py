"""Receipt PDFs (WeasyPrint). Everything the document needs is inside the HTML: the renderer fetches nothing,
from the network or the disk, and every user-entered text is escaped by the template engine."""

from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML


class FetchRefused(Exception):
    pass


def refuse_fetch(url, *args, **kwargs):
    raise FetchRefused(f"Receipts load no external resources ({url[:60]})")


def receipt_html(*, invoice) -> str:
    """Dates (period, payment date) are printed in the customer's time zone."""
    lines = list(invoice.lines.all())
    applications = list(invoice.credit_applications.select_related("credit"))
    with timezone.override(ZoneInfo(invoice.tenant.time_zone)):
        return render_to_string(
            "payments/receipt.html",
            {
                "invoice": invoice,
                "lines": lines,
                "credit_applications": applications,
                "tax_percent": (invoice.tax_rate * 100).normalize(),
            },
        )


def receipt_pdf(*, invoice) -> bytes:
    return HTML(string=receipt_html(invoice=invoice), base_url=None, url_fetcher=refuse_fetch).write_pdf()


def receipt_response(*, invoice) -> HttpResponse:
    """The invoice's document as a PDF download (portal page and operator API): the archived bytes, exactly as
    issued (the receipt once paid, the invoice before, a credit note as itself; payments.invoicing.archive
    stores it now if its task has not run yet). The caller has scoped `invoice` to the tenant."""
    from payments.invoicing.archive import document_for_download

    document = document_for_download(invoice=invoice)
    response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{invoice.receipt_id}.pdf"'
    return response
