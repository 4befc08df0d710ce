"""Django admin for bank transfers: statement upload → review of the proposed matches → confirm; unmatched
lines resolved by hand; applied transfers, reminders and transfer references as history. Thin: every write is a
service of payments.invoicing.transfers."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from billing_portal.common.admin import ReadOnlyAdmin, tenant_local
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import format_money
from payments.invoicing import bank_statements, transfers

from .models import (
    BankStatement,
    BankStatementLine,
    BankTransferProfile,
    Invoice,
    TransferPayment,
    TransferReminder,
)


class StatementUploadForm(forms.Form):
    file = forms.FileField(
        label="Bank statement (CSV)",
        help_text="UTF-8 or Shift_JIS; with or without a header row; see the layout below.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > bank_statements.MAX_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB.")
        return upload


def _can_apply(request) -> bool:
    return request.user.has_perm("payments.change_invoice")


@admin.register(BankStatement)
class BankStatementAdmin(ReadOnlyAdmin):
    """Upload replaces "Add"; each statement has a review page where ops confirm the proposed matches."""

    list_display = [
        "filename",
        "uploaded_local",
        "uploaded_by",
        "lines_total",
        "lines_open",
        "errors_count",
        "duplicate_rows",
        "review_link",
    ]
    search_fields = ["filename", "file_sha256"]

    @admin.display(description="uploaded", ordering="uploaded_at")
    def uploaded_local(self, obj):
        from django.conf import settings

        from billing_portal.common.clock import local_text

        return local_text(obj.uploaded_at, settings.BILLING_TIME_ZONE)

    @admin.display(description="lines")
    def lines_total(self, obj):
        return obj.lines.count()

    @admin.display(description="not applied")
    def lines_open(self, obj):
        return obj.lines.filter(status=BankStatementLine.Status.UNAPPLIED).count()

    @admin.display(description="unreadable rows")
    def errors_count(self, obj):
        return len(obj.row_errors or [])

    @admin.display(description="")
    def review_link(self, obj):
        return format_html(
            '<a class="button" href="{}">Review and confirm</a>',
            reverse("admin:payments_bankstatement_review", args=[obj.pk]),
        )

    def get_urls(self):
        return [
            path(
                "upload/", self.admin_site.admin_view(self.upload_view), name="payments_bankstatement_upload"
            ),
            path(
                "<int:statement_id>/review/",
                self.admin_site.admin_view(self.review_view),
                name="payments_bankstatement_review",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "upload_url": reverse("admin:payments_bankstatement_upload"),
        }
        return super().changelist_view(request, extra_context)

    def upload_view(self, request):
        if not _can_apply(request):
            raise PermissionDenied
        form = StatementUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = transfers.statement_upload(
                    data=upload.read(), filename=upload.name, actor=request.user
                )
            except ApplicationError as exc:
                form.add_error("file", exc.message)
            else:
                if not result.created:
                    self.message_user(
                        request,
                        "This file was uploaded before; nothing was imported again.",
                        messages.WARNING,
                    )
                else:
                    self.message_user(
                        request,
                        f"{result.new_lines} deposit(s) imported"
                        + (
                            f"; {result.duplicate_lines} already imported from an earlier statement "
                            "were skipped"
                            if result.duplicate_lines
                            else ""
                        )
                        + ". Nothing is applied until you confirm below.",
                        messages.SUCCESS,
                    )
                return redirect("admin:payments_bankstatement_review", result.statement.pk)
        return TemplateResponse(
            request,
            "admin/payments/bankstatement/upload.html",
            {
                **self.admin_site.each_context(request),
                "title": "Upload a bank statement",
                "form": form,
                "opts": self.model._meta,
                "header_names": bank_statements.HEADER_NAMES,
            },
        )

    def review_view(self, request, statement_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        statement = get_object_or_404(BankStatement, pk=statement_id)
        lines = list(
            statement.lines.select_related(
                "application__invoice", "application__tenant", "application__credit"
            )
        )
        if request.method == "POST":
            if not _can_apply(request):
                raise PermissionDenied
            by_id = {line.pk: line for line in lines}
            choices = []
            for raw in request.POST.getlist("apply"):
                line = by_id.get(int(raw)) if raw.isdigit() else None
                invoice_id = request.POST.get(f"invoice_{raw}", "")
                invoice = Invoice.objects.filter(pk=invoice_id).first() if invoice_id.isdigit() else None
                if line is not None and invoice is not None:
                    choices.append((line, invoice))
            if not choices:
                self.message_user(request, "Tick at least one proposed match to confirm.", messages.WARNING)
                return redirect(request.path)
            result = transfers.statement_confirm(
                choices=choices,
                overpayment_to_credit=bool(request.POST.get("overpayment_to_credit")),
                actor=request.user,
            )
            paid = sum(
                1
                for payment in result.applied
                if payment.invoice and payment.invoice.status == Invoice.Status.SUCCESSFUL
            )
            if result.applied:
                self.message_user(
                    request,
                    f"{len(result.applied)} deposit(s) applied; {paid} invoice(s) paid.",
                    messages.SUCCESS,
                )
            for line, message in result.refused:
                self.message_user(request, f"Row {line.row}: {message}", messages.ERROR)
            return redirect(request.path)
        proposals = transfers.line_proposals(lines=lines)
        return TemplateResponse(
            request,
            "admin/payments/bankstatement/review.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Review statement {statement.filename}",
                "statement": statement,
                "proposals": proposals,
                "opts": self.model._meta,
                "can_apply": _can_apply(request),
            },
        )


class LineResolveForm(forms.Form):
    ACTIONS = [
        ("invoice", "Apply to an invoice"),
        ("credit", "Keep all of it as the customer's credit"),
        ("ignore", "Ignore: not a customer's payment"),
    ]
    action = forms.ChoiceField(choices=ACTIONS, widget=forms.RadioSelect, initial="invoice")
    invoice = forms.ModelChoiceField(
        queryset=Invoice.objects.none(),
        required=False,
        help_text="Open bank-transfer invoices (JPY), oldest due first: number — customer — left to pay.",
    )
    overpayment_to_credit = forms.BooleanField(
        required=False,
        initial=True,
        label="Keep an overpayment as the customer's credit",
        help_text="Credits apply before tax: ¥1,100 over becomes ¥1,000 credit, which takes ¥1,100 off the next invoice.",
    )
    tenant = forms.ModelChoiceField(queryset=None, required=False, label="Customer (for credit)")
    note = forms.CharField(max_length=300, required=False, help_text="Why (shown in the line's history).")

    def __init__(self, *args, **kwargs):
        from accounts.models import Tenant

        super().__init__(*args, **kwargs)
        open_invoices = [inv for inv in transfers.open_transfer_invoices() if inv.currency == "JPY"]
        self.remaining = {inv.pk: inv for inv in open_invoices}
        self.fields["invoice"].queryset = Invoice.objects.filter(pk__in=list(self.remaining)).select_related(
            "tenant"
        )
        self.fields["invoice"].label_from_instance = lambda inv: (
            f"{inv.number} — {inv.tenant.name} — {format_money(self.remaining[inv.pk].remaining, inv.currency)} "
            f"left (due {inv.due_date or '—'})"
        )
        self.fields["tenant"].queryset = Tenant.objects.filter(currency="JPY").order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("action") == "invoice" and not data.get("invoice"):
            self.add_error("invoice", "Choose the invoice this deposit pays.")
        if data.get("action") == "credit" and not data.get("tenant"):
            self.add_error("tenant", "Choose the customer to credit.")
        if data.get("action") == "ignore" and not (data.get("note") or "").strip():
            self.add_error("note", "Say why this deposit is ignored.")
        return data


class LineStatusFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [
            ("unapplied", "Not applied (unmatched or not confirmed)"),
            ("partial", "Applied to an invoice still open (underpaid)"),
            ("over", "Applied with an overpayment not kept as credit"),
        ]

    def queryset(self, request, queryset):
        from django.db.models import F

        if self.value() == "unapplied":
            return queryset.filter(status=BankStatementLine.Status.UNAPPLIED)
        if self.value() == "partial":
            return queryset.filter(application__invoice__status=Invoice.Status.PENDING)
        if self.value() == "over":
            return queryset.filter(
                application__credit__isnull=True,
                application__invoice__isnull=False,
                application__amount__lt=F("amount"),
            )
        return queryset


@admin.register(BankStatementLine)
class BankStatementLineAdmin(ReadOnlyAdmin):
    list_display = [
        "booked_on",
        "amount_yen",
        "payer_name",
        "reference",
        "status",
        "applied_to",
        "statement",
        "resolve_link",
    ]
    list_filter = [LineStatusFilter, "status"]
    search_fields = [
        "payer_name",
        "payer_name_raw",
        "reference",
        "application__invoice__number",
        "application__tenant__name",
    ]
    date_hierarchy = "booked_on"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("statement", "application__invoice", "application__tenant")
        )

    @admin.display(description="amount", ordering="amount")
    def amount_yen(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description="applied to")
    def applied_to(self, obj):
        payment = getattr(obj, "application", None)
        if payment is None:
            return obj.note or "—"
        target = payment.invoice.number if payment.invoice else "credit"
        extra = (
            ""
            if payment.amount == obj.amount
            else f" ({format_money(payment.amount, obj.currency)} to the invoice)"
        )
        return f"{payment.tenant.name}: {target}{extra}"

    @admin.display(description="")
    def resolve_link(self, obj):
        if obj.status == BankStatementLine.Status.APPLIED:
            return ""
        return format_html(
            '<a class="button" href="{}">Resolve…</a>',
            reverse("admin:payments_bankstatementline_resolve", args=[obj.pk]),
        )

    def get_urls(self):
        return [
            path(
                "<int:line_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="payments_bankstatementline_resolve",
            ),
            *super().get_urls(),
        ]

    def resolve_view(self, request, line_id):
        if not _can_apply(request):
            raise PermissionDenied
        line = get_object_or_404(BankStatementLine, pk=line_id)
        form = LineResolveForm(request.POST or None, initial={"overpayment_to_credit": True})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["action"] == "ignore":
                    transfers.line_ignore(line=line, note=data["note"], actor=request.user)
                    message = f"Row {line.row} ignored."
                elif data["action"] == "credit":
                    payment = transfers.transfer_apply(line=line, tenant=data["tenant"], actor=request.user)
                    message = (
                        f"{format_money(payment.credit.amount_charged, line.currency)} credit (before tax) "
                        f"for {payment.tenant.name}."
                    )
                else:
                    payment = transfers.transfer_apply(
                        line=line,
                        invoice=data["invoice"],
                        actor=request.user,
                        overpayment_to_credit=data["overpayment_to_credit"],
                    )
                    payment.invoice.refresh_from_db()
                    message = (
                        f"Invoice {payment.invoice.number} is paid."
                        if payment.invoice.status == Invoice.Status.SUCCESSFUL
                        else f"{format_money(payment.amount, line.currency)} recorded on invoice "
                        f"{payment.invoice.number}; it stays open for the rest."
                    )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, message, messages.SUCCESS)
                return redirect(
                    reverse("admin:payments_bankstatementline_changelist") + "?attention=unapplied"
                )
        return TemplateResponse(
            request,
            "admin/payments/bankstatementline/resolve.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Resolve deposit of {line.booked_on}",
                "line": line,
                "form": form,
                "opts": self.model._meta,
                "proposal": transfers.line_proposals(lines=[line])[0],
            },
        )


@admin.register(TransferPayment)
class TransferPaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "line",
        "tenant",
        "invoice",
        "amount",
        "credit",
        "applied_by",
        tenant_local("applied_at", "applied"),
    ]
    search_fields = ["tenant__name", "invoice__number", "line__payer_name"]


@admin.register(TransferReminder)
class TransferReminderAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "tenant", "step", tenant_local("sent_at", "sent")]
    list_filter = ["step"]
    search_fields = ["invoice__number", "tenant__name"]


@admin.register(BankTransferProfile)
class BankTransferProfileAdmin(ReadOnlyAdmin):
    """References are assigned when a tenant chooses bank transfer and are never changed or reused."""

    list_display = ["reference", "tenant", "payer_name", "created_at"]
    search_fields = ["reference", "tenant__name", "payer_name"]


class OverdueTransferFilter(admin.SimpleListFilter):
    """Invoice list: bank-transfer invoices open past their due date (ops' overdue list)."""

    title = gettext_lazy("bank transfer")
    parameter_name = "transfer"

    def lookups(self, request, model_admin):
        return [
            ("overdue", gettext_lazy("Overdue (past the due date, unpaid)")),
            ("open", gettext_lazy("Open (unpaid)")),
            ("partial", gettext_lazy("Partly received")),
        ]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        open_ = transfers.open_transfer_invoices()
        if self.value() == "overdue":
            ids = [inv.pk for inv in transfers.overdue_transfer_invoices()]
        elif self.value() == "partial":
            ids = [inv.pk for inv in open_ if inv.received]
        else:
            ids = [inv.pk for inv in open_]
        return queryset.filter(Q(pk__in=ids))
