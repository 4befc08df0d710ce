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
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext, pgettext_lazy

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
        label=gettext_lazy("Bank statement (CSV)"),
        help_text=gettext_lazy("UTF-8 or Shift_JIS; with or without a header row; see the layout below."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > bank_statements.MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)s MB.")
                % {"size": bank_statements.MAX_BYTES // (1024 * 1024)}
            )
        return upload


def _can_apply(request) -> bool:
    return request.user.has_perm("payments.change_invoice")


# How a deposit was matched to its customer (Proposal.rule), as the review and resolve pages say it.
RULE_LABELS = {
    "reference": pgettext_lazy("matched by", "transfer reference"),
    "name": pgettext_lazy("matched by", "payer name"),
    "amount": pgettext_lazy("matched by", "amount"),
}


def _with_rule_labels(proposals):
    for proposal in proposals:
        proposal.rule_label = RULE_LABELS.get(proposal.rule, "")
        proposal.shortfall = -proposal.difference  # shown as "underpaid by ¥660", not "-¥660"
    return proposals


def _upload_message(new_lines: int, duplicate_lines: int) -> str:
    imported = ngettext("%(count)s deposit imported.", "%(count)s deposits imported.", new_lines) % {
        "count": new_lines
    }
    skipped = (
        ngettext(
            "%(count)s deposit already imported from an earlier statement was skipped.",
            "%(count)s deposits already imported from an earlier statement were skipped.",
            duplicate_lines,
        )
        % {"count": duplicate_lines}
        if duplicate_lines
        else ""
    )
    return _sentences(imported, skipped, _("Nothing is applied until you confirm below."))


def _sentences(*parts: str) -> str:
    """Sentences one after the other, as the language writes them (English with a space, Japanese without)."""
    parts = [part for part in parts if part]
    text = parts[0]
    for part in parts[1:]:
        text = pgettext("sentences in a row", "%(first)s %(second)s") % {"first": text, "second": part}
    return text


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

    @admin.display(description=gettext_lazy("uploaded"), ordering="uploaded_at")
    def uploaded_local(self, obj):
        from django.conf import settings

        from billing_portal.common.clock import local_text

        return local_text(obj.uploaded_at, settings.BILLING_TIME_ZONE)

    @admin.display(description=gettext_lazy("lines"))
    def lines_total(self, obj):
        return obj.lines.count()

    @admin.display(description=gettext_lazy("not applied"))
    def lines_open(self, obj):
        return obj.lines.filter(status=BankStatementLine.Status.UNAPPLIED).count()

    @admin.display(description=gettext_lazy("unreadable rows"))
    def errors_count(self, obj):
        return len(obj.row_errors or [])

    @admin.display(description="")
    def review_link(self, obj):
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:payments_bankstatement_review", args=[obj.pk]),
            pgettext("bank statement", "Review and confirm"),
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
                        _("This file was uploaded before; nothing was imported again."),
                        messages.WARNING,
                    )
                else:
                    self.message_user(
                        request,
                        _upload_message(result.new_lines, result.duplicate_lines),
                        messages.SUCCESS,
                    )
                return redirect("admin:payments_bankstatement_review", result.statement.pk)
        return TemplateResponse(
            request,
            "admin/payments/bankstatement/upload.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Upload a bank statement"),
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
                self.message_user(
                    request, _("Tick at least one proposed match to confirm."), messages.WARNING
                )
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
                    _sentences(
                        ngettext(
                            "%(count)s deposit applied.", "%(count)s deposits applied.", len(result.applied)
                        )
                        % {"count": len(result.applied)},
                        ngettext("%(count)s invoice paid.", "%(count)s invoices paid.", paid)
                        % {"count": paid},
                    ),
                    messages.SUCCESS,
                )
            for line, message in result.refused:
                self.message_user(
                    request,
                    _("Row %(row)s: %(reason)s") % {"row": line.row, "reason": message},
                    messages.ERROR,
                )
            return redirect(request.path)
        proposals = _with_rule_labels(transfers.line_proposals(lines=lines))
        return TemplateResponse(
            request,
            "admin/payments/bankstatement/review.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Review statement %(name)s") % {"name": statement.filename},
                "statement": statement,
                "proposals": proposals,
                "opts": self.model._meta,
                "can_apply": _can_apply(request),
            },
        )


class LineResolveForm(forms.Form):
    ACTIONS = [
        ("invoice", gettext_lazy("Apply to an invoice")),
        ("credit", gettext_lazy("Keep all of it as the customer's credit")),
        ("ignore", gettext_lazy("Ignore: not a customer's payment")),
    ]
    action = forms.ChoiceField(
        label=gettext_lazy("What to do"), choices=ACTIONS, widget=forms.RadioSelect, initial="invoice"
    )
    invoice = forms.ModelChoiceField(
        queryset=Invoice.objects.none(),
        required=False,
        label=gettext_lazy("Invoice"),
        help_text=gettext_lazy(
            "Open bank-transfer invoices (JPY), oldest due first: number — customer — left to pay."
        ),
    )
    overpayment_to_credit = forms.BooleanField(
        required=False,
        initial=True,
        label=gettext_lazy("Keep an overpayment as the customer's credit"),
        help_text=gettext_lazy(
            "Credits apply before tax: ¥1,100 over becomes ¥1,000 credit, which takes ¥1,100 off the next "
            "invoice."
        ),
    )
    tenant = forms.ModelChoiceField(
        queryset=None, required=False, label=gettext_lazy("Customer (for credit)")
    )
    note = forms.CharField(
        max_length=300,
        required=False,
        label=gettext_lazy("Note"),
        help_text=gettext_lazy("Why (shown in the line's history)."),
    )

    def __init__(self, *args, **kwargs):
        from accounts.models import Tenant

        super().__init__(*args, **kwargs)
        open_invoices = [inv for inv in transfers.open_transfer_invoices() if inv.currency == "JPY"]
        self.remaining = {inv.pk: inv for inv in open_invoices}
        self.fields["invoice"].queryset = Invoice.objects.filter(pk__in=list(self.remaining)).select_related(
            "tenant"
        )
        self.fields["invoice"].label_from_instance = lambda inv: (
            _("%(number)s — %(customer)s — %(amount)s left (due %(due)s)")
            % {
                "number": inv.number,
                "customer": inv.tenant.name,
                "amount": format_money(self.remaining[inv.pk].remaining, inv.currency),
                "due": inv.due_date or "—",
            }
        )
        self.fields["tenant"].queryset = Tenant.objects.filter(currency="JPY").order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("action") == "invoice" and not data.get("invoice"):
            self.add_error("invoice", _("Choose the invoice this deposit pays."))
        if data.get("action") == "credit" and not data.get("tenant"):
            self.add_error("tenant", _("Choose the customer to credit."))
        if data.get("action") == "ignore" and not (data.get("note") or "").strip():
            self.add_error("note", _("Say why this deposit is ignored."))
        return data


class LineStatusFilter(admin.SimpleListFilter):
    title = gettext_lazy("what needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [
            ("unapplied", _("Not applied (unmatched or not confirmed)")),
            ("partial", _("Applied to an invoice still open (underpaid)")),
            ("over", _("Applied with an overpayment not kept as credit")),
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
        "resolve_link",
        "statement_file",
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

    class Media:
        css = {"all": ["css/admin-transfers.css"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("statement", "application__invoice", "application__tenant")
        )

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def amount_yen(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description=gettext_lazy("applied to"))
    def applied_to(self, obj):
        payment = getattr(obj, "application", None)
        if payment is None:
            return obj.note or "—"
        values = {
            "customer": payment.tenant.name,
            "number": payment.invoice.number if payment.invoice else "",
            "amount": format_money(payment.amount, obj.currency),
        }
        if payment.invoice is None:
            return _("%(customer)s: credit") % values
        if payment.amount == obj.amount:
            return _("%(customer)s: %(number)s") % values
        return _("%(customer)s: %(number)s (%(amount)s to the invoice)") % values

    @admin.display(description=gettext_lazy("bank statement"), ordering="statement__filename")
    def statement_file(self, obj):
        return obj.statement.filename  # the name only: the upload time would push the columns off the page

    @admin.display(description="")
    def resolve_link(self, obj):
        if obj.status == BankStatementLine.Status.APPLIED:
            return ""
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:payments_bankstatementline_resolve", args=[obj.pk]),
            pgettext("list button, a narrow column", "Resolve…"),
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
                    message = _("Row %(row)s ignored.") % {"row": line.row}
                elif data["action"] == "credit":
                    payment = transfers.transfer_apply(line=line, tenant=data["tenant"], actor=request.user)
                    message = _("%(amount)s credit (before tax) for %(customer)s.") % {
                        "amount": format_money(payment.credit.amount_charged, line.currency),
                        "customer": payment.tenant.name,
                    }
                else:
                    payment = transfers.transfer_apply(
                        line=line,
                        invoice=data["invoice"],
                        actor=request.user,
                        overpayment_to_credit=data["overpayment_to_credit"],
                    )
                    payment.invoice.refresh_from_db()
                    values = {
                        "number": payment.invoice.number,
                        "amount": format_money(payment.amount, line.currency),
                    }
                    message = (
                        _("Invoice %(number)s is paid.") % values
                        if payment.invoice.status == Invoice.Status.SUCCESSFUL
                        else _("%(amount)s recorded on invoice %(number)s; it stays open for the rest.")
                        % values
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
                "title": _("Resolve the deposit of %(date)s") % {"date": date_format(line.booked_on)},
                "line": line,
                "form": form,
                "opts": self.model._meta,
                "proposal": _with_rule_labels(transfers.line_proposals(lines=[line]))[0],
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
        tenant_local("applied_at", gettext_lazy("applied")),
    ]
    search_fields = ["tenant__name", "invoice__number", "line__payer_name"]


@admin.register(TransferReminder)
class TransferReminderAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "tenant", "step", tenant_local("sent_at", gettext_lazy("sent"))]
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
