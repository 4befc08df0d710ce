"""Django admin for the e-bookkeeping archive (電子帳簿保存法, docs/archive.md): read-only. Ops search by issue
date range, amount range and counterparty (combined, with the kind and currency filters and the search box),
download a document's stored PDF (or several as a ZIP with their SHA-256 sums) and export the search as CSV.
Thin: every read is a selector of payments.invoicing.archive_selectors."""

import hashlib

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing_portal.common import clock
from billing_portal.common.admin import ReadOnlyAdmin
from billing_portal.common.forms import TypedCharField, TypedDecimalField
from billing_portal.common.money import format_money
from payments.invoicing import archive_selectors
from payments.invoicing.archive import retention_until

from .models import ArchivedDocument

ZIP_MAX_DOCUMENTS = 500


class _DateInput(forms.DateInput):
    input_type = "date"


class ArchiveSearchForm(forms.Form):
    issued_from = forms.DateField(label=gettext_lazy("Issued from"), required=False, widget=_DateInput)
    issued_to = forms.DateField(
        label=gettext_lazy("Issued until (included)"), required=False, widget=_DateInput
    )
    amount_min = TypedDecimalField(
        label=gettext_lazy("Amount from"), required=False, max_digits=20, decimal_places=2
    )
    amount_max = TypedDecimalField(
        label=gettext_lazy("Amount up to (included)"), required=False, max_digits=20, decimal_places=2
    )
    counterparty = TypedCharField(label=gettext_lazy("Counterparty contains"), required=False, max_length=200)

    def clean(self):
        data = super().clean()
        if data.get("issued_from") and data.get("issued_to") and data["issued_from"] > data["issued_to"]:
            raise forms.ValidationError(_("The date range ends before it starts."))
        low, high = data.get("amount_min"), data.get("amount_max")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError(_("The amount range ends below its start."))
        return data


class ArchiveSearchFilter(admin.ListFilter):
    """The search form in the filter panel: issue date range, amount range (major units, tax included) and
    counterparty, any of them, combined with each other and with the other filters."""

    title = gettext_lazy("issue date, amount and counterparty")
    template = "admin/payments/archiveddocument/search_filter.html"
    parameters = tuple(ArchiveSearchForm.base_fields)

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.parameters:
            if name in params:
                value = params.pop(name)[-1]
                if value.strip():
                    self.used_parameters[name] = value
        self.form = ArchiveSearchForm(self.used_parameters or None)

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.parameters)

    def queryset(self, request, queryset):
        if not self.used_parameters:
            return queryset
        if not self.form.is_valid():
            return queryset.none()  # never "everything" for a search that could not be read
        return archive_selectors.archived_documents_search(queryset=queryset, **self.form.cleaned_data)

    def choices(self, changelist):
        hidden = [
            (name, value)
            for name, value in changelist.params.items()
            if name not in self.parameters and name != PAGE_VAR
        ]
        yield {
            "form": self.form,
            "hidden": hidden,
            "clear": changelist.get_query_string(remove=self.parameters),
        }


@admin.register(ArchivedDocument)
class ArchivedDocumentAdmin(ReadOnlyAdmin):
    """Stored documents are never added, changed or deleted here (nor anywhere: docs/archive.md)."""

    list_display = [
        "number",
        "kind",
        "issue_date",
        "counterparty_name",
        "amount_display",
        "tenant",
        "sha256_short",
        "download_link",
    ]
    list_filter = [ArchiveSearchFilter, "kind", "currency"]
    search_fields = ["number", "counterparty_name", "sha256"]
    fields = [
        "kind",
        "number",
        "issue_date",
        "counterparty_name",
        "amount_display",
        "currency",
        "tenant",
        "invoice",
        "language",
        "sha256",
        "sha256_verified",
        "size",
        "created_at",
        "retained_until",
        "download_link",
    ]
    readonly_fields = fields
    actions = ["download_pdfs"]
    list_select_related = ["tenant"]

    def get_queryset(self, request):
        return archive_selectors.archived_documents()  # the PDF bytes are not loaded for lists

    @admin.display(description=gettext_lazy("amount (tax included)"), ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description=gettext_lazy("SHA-256"), ordering="sha256")
    def sha256_short(self, obj):
        return format_html('<span title="{}">{}…</span>', obj.sha256, obj.sha256[:12])

    @admin.display(description=gettext_lazy("SHA-256 of the stored bytes matches"), boolean=True)
    def sha256_verified(self, obj):
        return hashlib.sha256(bytes(obj.pdf)).hexdigest() == obj.sha256

    @admin.display(description=gettext_lazy("size (bytes)"))
    def size(self, obj):
        return f"{len(bytes(obj.pdf)):,}"

    @admin.display(description=gettext_lazy("kept at least until"))
    def retained_until(self, obj):
        return retention_until(obj)

    @admin.display(description=gettext_lazy("PDF"))
    def download_link(self, obj):
        url = reverse("admin:payments_archiveddocument_pdf", args=[obj.pk])
        return format_html('<a href="{}" data-download="{}">{}</a>', url, obj.pk, _("Download"))

    def get_urls(self):
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_view),
                name="payments_archiveddocument_export",
            ),
            path(
                "<int:document_id>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="payments_archiveddocument_pdf",
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def _pdf_response(document) -> HttpResponse:
        response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{document.kind}-{document.number}.pdf"'
        return response

    def pdf_view(self, request, document_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        document = archive_selectors.archived_document_get(document_id=document_id)
        if document is None:
            raise Http404(_("No such document."))
        return self._pdf_response(document)

    def export_view(self, request):
        """The documents the list shows for this query string (search form, filters, search box), as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return redirect(reverse("admin:payments_archiveddocument_changelist") + "?e=1")
        response = StreamingHttpResponse(
            archive_selectors.archived_documents_csv(queryset), content_type="text/csv; charset=utf-8"
        )
        today = clock.now().date().isoformat()
        response["Content-Disposition"] = f'attachment; filename="archived-documents-{today}.csv"'
        return response

    @admin.action(description=gettext_lazy("Download the selected PDFs"), permissions=["view"])
    def download_pdfs(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[: ZIP_MAX_DOCUMENTS + 1])
        if len(ids) > ZIP_MAX_DOCUMENTS:
            self.message_user(
                request,
                _("Select at most %(count)s documents at a time.") % {"count": ZIP_MAX_DOCUMENTS},
                messages.ERROR,
            )
            return None
        documents = list(archive_selectors.archived_documents_for_download(document_ids=ids))
        if len(documents) == 1:
            return self._pdf_response(documents[0])
        response = HttpResponse(
            archive_selectors.archived_documents_zip(documents), content_type="application/zip"
        )
        response["Content-Disposition"] = 'attachment; filename="archived-documents.zip"'
        return response
