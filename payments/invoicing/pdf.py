"""The PDF documents of an issued invoice (WeasyPrint), in the tenant's document language (ja | en):

- "invoice": 請求書, a qualified invoice (適格請求書): seller and registration number, date or billing period,
  lines with their tax rate, amounts and tax per rate, buyer 御中, due date, and the bank account and transfer
  reference for tenants paying by transfer. Available from the moment the invoice is issued.
- "receipt": 領収書, only once the invoice is paid (card or bank transfer): amount received and payment date.
- "credit_note": 適格返還請求書 (a return invoice), of a credit note: the original invoice and its date, the
  returned amount and tax per rate.

Everything the document needs is inside the HTML: the renderer fetches nothing from the network or the disk
except the bundled Japanese font (static/fonts/, OFL), and every user-entered text is escaped by the template
engine. `document_pdf(invoice=, kind=, language=)` is the one entry point (receipts, pages, the API, the archive).
"""

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from billing_portal.common.exceptions import NotFound
from billing_portal.common.money import format_percent
from payments.invoicing.documents import invoice_tax_groups
from payments.invoicing.registration import registration_number
from payments.models import Invoice

KINDS = ("invoice", "receipt", "credit_note")
LANGUAGES = ("ja", "en")

FONT_DIR = Path(settings.BASE_DIR) / "static" / "fonts"
FONT_FAMILY = "BP Noto Sans JP"
FONT_FILES = {"400": FONT_DIR / "BPNotoSansJP-Regular.otf", "700": FONT_DIR / "BPNotoSansJP-Bold.otf"}
FONT_URLS = {weight: path.resolve().as_uri() for weight, path in FONT_FILES.items()}


class FetchRefused(Exception):
    pass


class DocumentNotAvailable(NotFound):
    """The document does not exist (yet) for this invoice: a receipt of an unpaid invoice, a credit note of an
    invoice. Views answer 404 with the message."""


class DocumentFetcher(URLFetcher):
    """Gives WeasyPrint the bundled font files and nothing else: any other URL (http, file, data) is refused."""

    def __init__(self):
        super().__init__(allowed_protocols=("file",))
        self.fetched = []

    def fetch(self, url, headers=None):
        for weight, font_url in FONT_URLS.items():
            if url == font_url:
                self.fetched.append(url)
                return URLFetcherResponse(
                    url, FONT_FILES[weight].read_bytes(), headers={"Content-Type": "font/otf"}
                )
        return refuse_fetch(url)


def refuse_fetch(url, *args, **kwargs):
    raise FetchRefused(f"Documents load no external resources ({url[:60]})")


def font_face_css() -> str:
    return "\n".join(
        f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("{url}") format("opentype"); '
        f"font-weight: {weight}; font-style: normal; }}"
        for weight, url in FONT_URLS.items()
    )


def render_pdf(html: str) -> bytes:
    """HTML (from the document templates) to PDF bytes with the bundled font and no other resource."""
    fonts = FontConfiguration()
    return HTML(string=html, base_url=None, url_fetcher=DocumentFetcher()).write_pdf(font_config=fonts)


def document_language(*, invoice, language=None) -> str:
    language = language or getattr(invoice.tenant, "document_language", "") or "ja"
    if language not in LANGUAGES:
        raise ValueError(f"Unknown document language {language!r}")
    return language


def document_check(*, invoice, kind) -> None:
    """Raise DocumentNotAvailable unless `kind` exists for the invoice now."""
    if kind not in KINDS:
        raise ValueError(f"Unknown document kind {kind!r}; one of {', '.join(KINDS)}")
    is_note = invoice.kind == Invoice.Kind.CREDIT_NOTE
    if kind == "credit_note" and not is_note:
        raise DocumentNotAvailable(_("Invoice %(number)s is not a credit note.") % {"number": invoice.number})
    if kind in ("invoice", "receipt") and is_note:
        raise DocumentNotAvailable(
            _("%(number)s is a credit note: download its return invoice.") % {"number": invoice.number},
            code="credit_note",
        )
    if kind == "receipt" and invoice.status != Invoice.Status.SUCCESSFUL:
        raise DocumentNotAvailable(
            _("Invoice %(number)s is not paid yet: its receipt is issued once it is paid.")
            % {"number": invoice.number},
            code="not_paid",
        )


def document_kind_of(invoice) -> str:
    """The tax document of an invoice row: its invoice, or the return invoice of a credit note."""
    return "credit_note" if invoice.kind == Invoice.Kind.CREDIT_NOTE else "invoice"


# --- dates as the document's language writes them ------------------------------------------------------------


def _date(value, language) -> str:
    if value is None:
        return ""
    if hasattr(value, "hour"):
        value = timezone.localtime(value).date()
    return date_format(value, "Y年n月j日" if language == "ja" else "M j, Y")


def _period(invoice, language):
    """(billing month, first day, last day included) of a monthly invoice in the tenant's time zone, or None."""
    if not invoice.period_start or not invoice.period_end:
        return None
    start = timezone.localtime(invoice.period_start)
    last = timezone.localtime(invoice.period_end - timedelta(microseconds=1))
    month = date_format(start.date(), "Y年n月" if language == "ja" else "F Y")
    return {
        "month": pgettext("document billing month", "%(month)s") % {"month": month},
        "range": pgettext("document period", "%(start)s – %(end)s")
        % {"start": _date(start.date(), language), "end": _date(last.date(), language)},
    }


def _original_invoice(note):
    if note.credited_invoice_id:
        return note.credited_invoice
    parts = note.source_key.split("-")  # credit-note-<invoice pk>-<n> (notes issued before the link existed)
    if len(parts) == 4 and parts[2].isdigit():
        return Invoice.objects.filter(pk=int(parts[2]), tenant_id=note.tenant_id).first()
    return None


def document_context(*, invoice, kind, language) -> dict:
    lines = list(invoice.lines.all())
    groups = invoice_tax_groups(invoice)
    sign = -1 if kind == "credit_note" else 1
    reduced = {group.rate for group in groups if group.rate < invoice.tax_rate} if len(groups) > 1 else set()
    line_rows = [
        {
            "line": line,
            "quantity": f"{line.quantity.normalize():,f}",
            "amount": sign * line.amount,
            "rate": format_percent(line.tax_rate if line.tax_rate is not None else invoice.tax_rate),
            "reduced": (line.tax_rate if line.tax_rate is not None else invoice.tax_rate) in reduced,
        }
        for line in lines
    ]
    group_rows = [
        {
            "rate": format_percent(group.rate),
            "reduced": group.rate in reduced,
            "lines_amount": sign * group.lines_amount,
            "credit": sign * group.credit,
            "taxable": sign * group.taxable,
            "tax": sign * group.tax,
            "total": sign * (group.taxable + group.tax),
        }
        for group in groups
    ]
    context = {
        "lang": language,
        "kind": kind,
        "invoice": invoice,
        "currency": invoice.currency,
        "font_face_css": font_face_css(),
        "font_family": FONT_FAMILY,
        "registration_number": registration_number(),
        "issue_date": _date(invoice.issued_at, language),
        "billing_date": _date(invoice.billing_date, language),
        "due_date": _date(invoice.due_date, language),
        "paid_date": _date(invoice.paid_at, language),
        "period": _period(invoice, language),
        "lines": line_rows,
        "groups": group_rows,
        "has_reduced": bool(reduced),
        "credit_applications": list(invoice.credit_applications.select_related("credit")),
        "payment_method": invoice.get_payment_method_display(),
        "total": sign * invoice.payment_amount,
        "subtotal": sign * invoice.usage_amount,
        "taxable": sign * invoice.determined_amount,
        "tax": sign * invoice.tax_amount,
    }
    if kind == "invoice" and invoice.payment_method == Invoice.PaymentMethod.BANK_TRANSFER:
        from payments.invoicing.transfers import transfer_details

        context["transfer"] = transfer_details(tenant=invoice.tenant)
    if kind == "credit_note":
        original = _original_invoice(invoice)
        context["original"] = original
        if original is not None:
            context["original_date"] = _date(original.billing_date, language)
            context["original_period"] = _period(original, language)
    return context


TEMPLATES = {
    "invoice": "payments/documents/invoice.html",
    "receipt": "payments/documents/receipt.html",
    "credit_note": "payments/documents/credit_note.html",
}


def document_html(*, invoice, kind, language=None) -> str:
    """The document's HTML: dates in the tenant's time zone, words in `language` (default: the tenant's)."""
    document_check(invoice=invoice, kind=kind)
    language = document_language(invoice=invoice, language=language)
    with timezone.override(ZoneInfo(invoice.tenant.time_zone)), translation.override(language):
        return render_to_string(
            TEMPLATES[kind], document_context(invoice=invoice, kind=kind, language=language)
        )


def document_pdf(*, invoice, kind, language=None) -> bytes:
    """The PDF of `kind` ("invoice" | "receipt" | "credit_note") of an issued invoice, in `language` ("ja" |
    "en"; default the tenant's document language). Raises DocumentNotAvailable (a receipt of an unpaid invoice)."""
    return render_pdf(document_html(invoice=invoice, kind=kind, language=language))


FILENAMES = {"invoice": "invoice", "receipt": "receipt", "credit_note": "credit-note"}


def document_response(*, invoice, kind, language=None) -> HttpResponse:
    """The document as a PDF download (portal pages and operator API): in the tenant's document language, the
    archived bytes exactly as issued (payments.invoicing.archive stores them now if their task has not run
    yet); in another language (the API's ?language=), a fresh rendering, which is not the archived original."""
    from payments.invoicing.archive import document_archive

    document_check(invoice=invoice, kind=kind)
    document = document_archive(invoice=invoice, kind=kind)
    if language is None or language == document.language:
        content = bytes(document.pdf)
    else:
        content = document_pdf(invoice=invoice, kind=kind, language=language)
    response = HttpResponse(content, content_type="application/pdf")
    name = invoice.receipt_id if kind == "receipt" else invoice.number
    response["Content-Disposition"] = f'attachment; filename="{FILENAMES[kind]}-{name}.pdf"'
    return response
