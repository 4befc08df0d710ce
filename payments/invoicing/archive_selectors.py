"""Reads of the e-bookkeeping archive (電子帳簿保存法, docs/archive.md): the ops search by issue date range,
amount range and counterparty, combinable; the CSV export of a search; one document by id."""

from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from billing_portal.common.csv_stream import csv_chunks
from billing_portal.common.money import CURRENCY_EXPONENTS, from_major_bound, to_major
from billing_portal.common.text import normalize_typed
from payments.models import ArchivedDocument

# The columns of the export, in order: (field, header).
CSV_FIELDS = ("kind", "number", "issue_date", "counterparty_name", "amount", "currency", "sha256")


def archived_documents(*, with_pdf: bool = False) -> QuerySet:
    """Every archived document, newest first; the PDF bytes only when asked for (lists never load them)."""
    queryset = ArchivedDocument.objects.select_related("tenant")
    return queryset if with_pdf else queryset.defer("pdf")


def _amount_bound(lookup: str, value: Decimal) -> Q:
    """`amount <lookup> value` with value in major units (¥1,100; $12.34), for each currency in its minor units.
    A bound finer than a currency's minor unit is rounded outward (the range never loses a document)."""
    condition = Q()
    for currency in CURRENCY_EXPONENTS:
        minor = from_major_bound(value, currency, lower=lookup == "gte")
        condition |= Q(currency=currency, **{f"amount__{lookup}": minor})
    return condition


def archived_documents_search(
    *,
    queryset: QuerySet | None = None,
    issued_from=None,
    issued_to=None,
    amount_min: Decimal | None = None,
    amount_max: Decimal | None = None,
    counterparty: str = "",
) -> QuerySet:
    """Documents issued from `issued_from` to `issued_to` (dates in the tenant's calendar, both included), of
    `amount_min` to `amount_max` (major units of each document's currency, tax included, both included) whose
    counterparty's name contains `counterparty` (case-insensitive; full-width letters typed are folded too).
    Every condition left None or empty is not applied; the others are combined (AND)."""
    queryset = archived_documents() if queryset is None else queryset
    if issued_from is not None:
        queryset = queryset.filter(issue_date__gte=issued_from)
    if issued_to is not None:
        queryset = queryset.filter(issue_date__lte=issued_to)
    if amount_min is not None:
        queryset = queryset.filter(_amount_bound("gte", Decimal(amount_min)))
    if amount_max is not None:
        queryset = queryset.filter(_amount_bound("lte", Decimal(amount_max)))
    counterparty = (counterparty or "").strip()
    if counterparty:
        folded = normalize_typed(counterparty)
        queryset = queryset.filter(
            Q(counterparty_name__icontains=counterparty) | Q(counterparty_name__icontains=folded)
        )
    return queryset


def archived_document_get(*, document_id: int) -> ArchivedDocument | None:
    return archived_documents(with_pdf=True).filter(pk=document_id).first()


def archived_documents_for_download(*, document_ids) -> QuerySet:
    return archived_documents(with_pdf=True).filter(pk__in=list(document_ids)).order_by("issue_date", "pk")


def archived_documents_csv(queryset: QuerySet) -> Iterator[str]:
    """The documents as CSV lines for Excel (UTF-8 with a byte-order mark, CRLF): kind, number, issue date,
    counterparty, amount (major units, tax included), currency, SHA-256; headers in the current language.
    Headers and labels are translated now, the rows are read as they are sent (streamed, in chunks)."""
    headers = [
        _("Document type"),
        _("Document number"),
        _("Issue date"),
        _("Counterparty"),
        _("Amount (tax included)"),
        _("Currency"),
        _("SHA-256"),
    ]
    kinds = {value: str(label) for value, label in ArchivedDocument.Kind.choices}
    rows = queryset.values_list(*CSV_FIELDS).iterator(chunk_size=2000)
    return csv_chunks(
        headers,
        (
            [kinds.get(kind, kind), number, issue_date.isoformat(), counterparty, to_major(amount, currency)]
            + [currency, sha256]
            for kind, number, issue_date, counterparty, amount, currency, sha256 in rows
        ),
    )


def archived_documents_zip(documents) -> bytes:
    """The documents' PDFs in one ZIP, with a SHA256SUMS file (`sha256sum -c SHA256SUMS` checks every file)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    sums = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for document in documents:
            name = f"{document.tenant_id}-{document.kind}-{document.number}.pdf"
            bundle.writestr(name, bytes(document.pdf))
            sums.append(f"{document.sha256}  {name}\n")
        bundle.writestr("SHA256SUMS", "".join(sums))
    return buffer.getvalue()
