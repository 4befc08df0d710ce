from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import MinValueValidator
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing_portal.common.admin import ReadOnlyAdmin, ServiceAdmin, operator_local, tenant_local
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.forms import TypedCharField, TypedDecimalField, TypedIntegerField
from billing_portal.common.money import format_money
from billing_portal.common.text import normalize_typed
from payments.charging import attempts, cards, customers, stripe_events
from payments.invoicing.credit_notes import credit_note_issue
from payments.invoicing.credits import credit_code_issue, format_code
from payments.invoicing.documents import invoice_mark_paid_by_transfer

from . import archive_admin  # noqa: F401 - registers the archive's admin
from .models import (
    Coupon,
    Credit,
    CreditCode,
    Discount,
    Dispute,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentAccount,
    PaymentMethod,
    PaymentSettings,
    Refund,
    StripeEvent,
)
from .transfer_admin import OverdueTransferFilter


class PaymentAccountAdminForm(forms.ModelForm):
    """Sales-led flow: leave the Stripe customer ID empty to create a customer at Stripe, or enter one to link it."""

    stripe_customer_id = TypedCharField(
        label=gettext_lazy("Payment account ID (Stripe customer)"),
        required=False,
        help_text=gettext_lazy(
            "Leave empty to create a new Stripe customer from the name and e-mail below; "
            "enter an existing cus_… ID to link it (its name and e-mail are read from Stripe)."
        ),
    )
    name = forms.CharField(label=gettext_lazy("Payer name"), required=False)
    email = forms.EmailField(label=gettext_lazy("Payer e-mail address"), required=False)

    class Meta:
        model = PaymentAccount
        fields = ["tenant", "stripe_customer_id", "name", "email"]

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            if not data.get("name") or not data.get("email"):
                raise forms.ValidationError(_("Enter the payer name and e-mail address."))
        elif data.get("stripe_customer_id"):
            if not data["stripe_customer_id"].startswith("cus_"):
                self.add_error("stripe_customer_id", _("A Stripe customer ID starts with 'cus_'."))
        elif not data.get("name") or not data.get("email"):
            raise forms.ValidationError(
                _("Enter a Stripe customer ID to link, or the payer name and e-mail to create one.")
            )
        return data


@admin.register(PaymentAccount)
class PaymentAccountAdmin(ServiceAdmin):
    form = PaymentAccountAdminForm
    list_display = [
        "stripe_customer_id",
        "tenant",
        "name",
        "email",
        tenant_local("created_at", gettext_lazy("created")),
    ]
    search_fields = ["stripe_customer_id", "tenant__name", "name", "email"]
    autocomplete_fields = ["tenant"]
    actions = ["sync_cards_from_stripe"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "stripe_customer_id"] if obj else []

    def save_model(self, request, obj, form, change):
        """Writes go through services: creating or linking talks to Stripe first."""
        data = form.cleaned_data
        try:
            if change:
                customers.payment_account_update(account=obj, name=data["name"], email=data["email"])
            elif data.get("stripe_customer_id"):
                account = cards.payment_account_link(
                    tenant=data["tenant"], stripe_customer_id=data["stripe_customer_id"]
                )
                obj.pk = account.pk
            else:
                account = customers.payment_account_create(
                    tenant=data["tenant"], name=data["name"], email=data["email"]
                )
                obj.pk = account.pk
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except forms.ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(request.get_full_path())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        try:
            return super().change_view(request, object_id, form_url, extra_context)
        except forms.ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(request.get_full_path())

    @admin.action(description=gettext_lazy("Refresh cards from Stripe"))
    def sync_cards_from_stripe(self, request, queryset):
        for account in queryset.select_related("tenant"):
            try:
                cards.payment_methods_sync(tenant=account.tenant)
            except ApplicationError as exc:
                self.message_user(request, f"{account.tenant}: {exc.message}", messages.ERROR)
        self.message_user(request, _("Cards refreshed from Stripe."))


@admin.register(PaymentSettings)
class PaymentSettingsAdmin(ServiceAdmin):
    """Billing information entered by ops (sales-led): payment method and billing address."""

    list_display = ["tenant", "method", "billing_address", "updated_at"]
    autocomplete_fields = ["tenant"]

    def save_model(self, request, obj, form, change):
        try:
            cards.payment_method_choose(
                tenant=obj.tenant, method=obj.method, billing_address=obj.billing_address
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    """Card summaries mirror Stripe: never added, edited or deleted here; "Remove at Stripe" detaches through
    the same service as the portal."""

    list_display = [
        "tenant",
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "is_default",
        "stripe_payment_method_id",
    ]
    search_fields = ["tenant__name", "stripe_payment_method_id", "last4"]
    actions = ["remove_at_stripe"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Remove selected cards (detach at Stripe)"))
    def remove_at_stripe(self, request, queryset):
        for card in queryset.select_related("tenant"):
            try:
                cards.card_remove(tenant=card.tenant, payment_method=card)
            except ApplicationError as exc:
                self.message_user(request, f"{card}: {exc.message}", messages.ERROR)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "idempotency_key",
        "tenant",
        "amount_minor",
        "currency",
        "status",
        "stripe_payment_intent_id",
        tenant_local("created_at", gettext_lazy("created")),
    ]
    list_filter = ["status", "currency"]
    search_fields = ["idempotency_key", "stripe_payment_intent_id", "tenant__name"]
    actions = ["refresh_from_stripe"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # payments are financial records

    @admin.action(description=gettext_lazy("Refresh status from Stripe"))
    def refresh_from_stripe(self, request, queryset):
        for payment in queryset:
            try:
                attempts.payment_refresh_from_stripe(payment=payment)
            except ApplicationError as exc:
                self.message_user(request, f"{payment}: {exc.message}", messages.ERROR)


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = [
        "stripe_event_id",
        "type",
        "status",
        "flag_reason",
        "attempts",
        "received_at",
        "processed_at",
    ]
    list_filter = ["status", "type"]
    search_fields = ["stripe_event_id", "type"]
    readonly_fields = [
        "stripe_event_id",
        "type",
        "stripe_created",
        "status",
        "flag_reason",
        "attempts",
        "received_at",
        "processed_at",
        "traceback",
        "raw_body",
    ]
    actions = ["reprocess"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=gettext_lazy("Reprocess selected events"))
    def reprocess(self, request, queryset):
        results = [stripe_events.stripe_event_process(event=event).status for event in queryset]
        failed = results.count(StripeEvent.Status.FAILED)
        self.message_user(
            request,
            ngettext(
                "Reprocessed %(count)s event; %(failed)s failed.",
                "Reprocessed %(count)s events; %(failed)s failed.",
                len(results),
            )
            % {"count": len(results), "failed": failed},
            messages.WARNING if failed else messages.SUCCESS,
        )


@admin.register(Credit)
class CreditAdmin(ReadOnlyAdmin):
    """Credits are history: read-only here; they are granted by services (codes, prorations)."""

    list_display = [
        "credit_name",
        "tenant",
        "source",
        "currency",
        "amount_charged",
        "amount_used",
        tenant_local("expires_at", gettext_lazy("expiration date")),
        tenant_local("registered_at", gettext_lazy("registration date")),
    ]
    list_filter = ["source", "currency"]
    search_fields = ["name", "tenant__name", "source_key"]

    @admin.display(description=gettext_lazy("credit"), ordering="name")
    def credit_name(self, obj):
        from payments.templatetags.invoice_text import invoice_text

        return invoice_text(obj.name)


class CreditCodeForm(forms.ModelForm):
    class Meta:
        model = CreditCode
        fields = ["name", "currency", "amount", "expires_at", "redemption_limit"]
        field_classes = {"amount": TypedIntegerField, "redemption_limit": TypedIntegerField}
        help_texts = {"amount": gettext_lazy("In minor units: yen for JPY, cents for USD.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The service refuses these too; here they are field errors instead of a failed save.
        for name in ("amount", "redemption_limit"):
            if name in self.fields and hasattr(self.fields[name], "min_value"):
                self.fields[name].min_value = 1
                self.fields[name].validators.append(MinValueValidator(1))


@admin.register(CreditCode)
class CreditCodeAdmin(ServiceAdmin):
    """Ops issue credit codes here; the code is generated (80 random bits) and never editable."""

    form = CreditCodeForm
    list_display = [
        "name",
        "display_code",
        "currency",
        "amount",
        operator_local("expires_at", gettext_lazy("expiration date")),
        "redeemed_count",
        "redemption_limit",
    ]
    list_filter = ["currency"]
    search_fields = ["name", "code"]
    readonly_fields = ["display_code", "redeemed_count", "created_by", "created_at"]

    @admin.display(description=gettext_lazy("code"))
    def display_code(self, obj):
        return format_code(obj.code) if obj and obj.code else _("(generated on save)")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["display_code"]
        # Issued codes are history: nothing but the name can change.
        return [
            "display_code",
            "currency",
            "amount",
            "expires_at",
            "redemption_limit",
            "redeemed_count",
            "created_by",
            "created_at",
        ]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = credit_code_issue(  # an ApplicationError comes back as a message (ServiceAdmin)
            name=obj.name,
            amount=obj.amount,
            currency=obj.currency,
            expires_at=obj.expires_at,
            redemption_limit=obj.redemption_limit,
            created_by=request.user,
        )
        obj.pk, obj.code = issued.pk, issued.code
        messages.info(request, _("Credit code issued: %(code)s") % {"code": format_code(issued.code)})

    def has_delete_permission(self, request, obj=None):
        return False


class CreditNoteForm(forms.Form):
    amount = TypedIntegerField(label=gettext_lazy("Amount to credit, before tax (minor units)"), min_value=1)
    reason = forms.CharField(label=gettext_lazy("Reason (printed on the credit note)"), max_length=200)


class RefundForm(forms.Form):
    amount = TypedIntegerField(
        label=gettext_lazy("Amount to refund, tax included (minor units)"),
        min_value=1,
        required=False,
        help_text=gettext_lazy("Leave empty to refund everything not yet refunded."),
    )
    reason = forms.CharField(label=gettext_lazy("Reason (printed on the credit note)"), max_length=200)


class ReissueForm(forms.Form):
    lines = forms.CharField(
        label=gettext_lazy("Corrected lines"),
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text=gettext_lazy(
            "One line per row: description | amount in minor units (before tax). Negative "
            "amounts are allowed for discounts; the total must not be negative."
        ),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)

    def clean_lines(self):
        parsed = []
        for number, row in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not row.strip():
                continue
            description, sep, amount = row.rpartition("|")
            if not sep:  # a full-width bar (｜) typed on a Japanese keyboard
                description, sep, amount = row.rpartition("｜")
            try:
                value = int(normalize_typed(amount).replace(",", "").replace(" ", ""))
            except ValueError:
                value = None
            if not sep or not description.strip() or value is None or abs(value) >= 10**15:
                raise forms.ValidationError(
                    _("Row %(number)s: write “description | amount” with a whole amount.")
                    % {"number": number}
                )
            parsed.append({"description": description.strip(), "amount": value})
        if not parsed:
            raise forms.ValidationError(_("Give at least one line."))
        return parsed


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ["position", "line_description", "quantity", "unit_amount", "amount", "tax_rate"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("description"))
    def line_description(self, obj):
        from payments.templatetags.invoice_text import invoice_text

        return invoice_text(obj.description)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Issued invoices are never edited here; ops only mark bank-transfer invoices as paid."""

    list_display = [
        "number",
        "tenant",
        "kind",
        "billing_date",
        tenant_local("issued_at", gettext_lazy("issued")),
        "currency",
        "payment_amount",
        "status",
        "payment_method",
        "due_date",
        tenant_local("paid_at", gettext_lazy("paid")),
    ]
    list_filter = [OverdueTransferFilter, "status", "kind", "payment_method", "currency"]
    search_fields = ["number", "receipt_id", "tenant__name"]
    date_hierarchy = "billing_date"
    inlines = [InvoiceLineInline]
    actions = ["mark_bank_transfer_paid"]

    exclude = ["tax_breakdown"]  # shown as tax_per_rate

    def get_readonly_fields(self, request, obj=None):
        return [
            "credit_note_link",
            "tax_per_rate",
            *[f.name for f in Invoice._meta.fields if f.name != "tax_breakdown"],
        ]

    @admin.display(description=gettext_lazy("tax per rate"))
    def tax_per_rate(self, obj):
        """「10%対象 ¥21,569（消費税 ¥2,157）」 per rate, as on the invoice PDF."""
        from billing_portal.common.money import format_money, format_percent
        from payments.invoicing.documents import invoice_tax_groups

        if obj is None:
            return "—"
        return " / ".join(
            _("%(rate)s items") % {"rate": format_percent(group.rate)}
            + f" {format_money(group.taxable, obj.currency)} "
            + _("(tax %(tax)s)") % {"tax": format_money(group.tax, obj.currency)}
            for group in invoice_tax_groups(obj)
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        from django.urls import path

        return [
            path(
                "<int:invoice_id>/credit-note/",
                self.admin_site.admin_view(self.credit_note_view),
                name="payments_invoice_credit_note",
            ),
            path(
                "<int:invoice_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_invoice_refund",
            ),
            path(
                "<int:invoice_id>/reissue/",
                self.admin_site.admin_view(self.reissue_view),
                name="payments_invoice_reissue",
            ),
            *super().get_urls(),
        ]

    def credit_note_view(self, request, invoice_id):
        from django.shortcuts import get_object_or_404, redirect
        from django.template.response import TemplateResponse
        from django.urls import reverse

        if not self.has_view_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=invoice_id)
        form = CreditNoteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                note = credit_note_issue(
                    invoice=invoice,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    _("Credit note %(number)s issued; the amount is credited to the customer's next invoice.")
                    % {"number": note.number},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:payments_invoice_change", args=[note.pk]))
        return TemplateResponse(
            request,
            "admin/payments/credit_note.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Credit note for invoice %(number)s") % {"number": invoice.number},
                "invoice": invoice,
                "form": form,
                "opts": self.model._meta,
            },
        )

    def _correction_view(
        self, request, invoice_id, *, form_class, template, title, act, initial=None, context=None
    ):
        """One shape for the correction pages: a form, one service call, a message, back to the result."""
        from django.shortcuts import get_object_or_404, redirect
        from django.template.response import TemplateResponse
        from django.urls import reverse

        if not self.has_view_permission(request) or not request.user.has_perm("payments.change_invoice"):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=invoice_id)
        form = form_class(request.POST or None, initial=initial(invoice) if initial else None)
        if request.method == "POST" and form.is_valid():
            try:
                target, message, ok = act(invoice, form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, message, messages.SUCCESS if ok else messages.ERROR)
                return redirect(reverse("admin:payments_invoice_change", args=[target.pk]))
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "title": title % {"number": invoice.number},
                "invoice": invoice,
                "form": form,
                "opts": self.model._meta,
                **(context(invoice) if context else {}),
            },
        )

    def refund_view(self, request, invoice_id):
        from payments.charging.refunds import refund_request, refundable_amount

        def act(invoice, data):
            refund = refund_request(
                invoice=invoice, amount_minor=data["amount"], reason=data["reason"], actor=request.user
            )
            if refund.status == refund.Status.SUCCEEDED:
                return (
                    invoice,
                    _("Refunded %(amount)s; credit note %(number)s.")
                    % {
                        "amount": format_money(refund.amount_minor, refund.currency),
                        "number": refund.credit_note.number,
                    },
                    True,
                )
            if refund.status == refund.Status.FAILED:
                return invoice, _("The refund failed: %(reason)s") % {"reason": refund.failure_message}, False
            return (
                invoice,
                _("The refund was sent; Stripe has not confirmed it yet (the sweeper finishes it)."),
                True,
            )

        return self._correction_view(
            request,
            invoice_id,
            form_class=RefundForm,
            template="admin/payments/refund.html",
            title=_("Refund invoice %(number)s"),
            act=act,
            context=lambda invoice: {"refundable": refundable_amount(invoice)},
        )

    def reissue_view(self, request, invoice_id):
        from payments.invoicing.corrections import invoice_reissue

        def act(invoice, data):
            new = invoice_reissue(
                invoice=invoice, lines=data["lines"], reason=data["reason"], actor=request.user
            )
            return (
                new,
                _("Invoice %(number)s is void; its replacement is %(new)s.")
                % {"number": invoice.number, "new": new.number},
                True,
            )

        def initial(invoice):
            return {"lines": "\n".join(f"{line.description} | {line.amount}" for line in invoice.lines.all())}

        return self._correction_view(
            request,
            invoice_id,
            form_class=ReissueForm,
            template="admin/payments/reissue.html",
            title=_("Reissue invoice %(number)s"),
            act=act,
            initial=initial,
        )

    @admin.display(description=gettext_lazy("correction"))
    def credit_note_link(self, obj):
        from django.urls import reverse
        from django.utils.html import format_html, format_html_join

        if obj is None or obj.kind == Invoice.Kind.CREDIT_NOTE:
            return "—"
        links = [("admin:payments_invoice_credit_note", _("Issue a credit note…"))]
        if obj.status == Invoice.Status.SUCCESSFUL and obj.payment_method == Invoice.PaymentMethod.CARD:
            links.append(("admin:payments_invoice_refund", _("Refund…")))
        if obj.status in (Invoice.Status.PENDING, Invoice.Status.FAILED):
            links.append(("admin:payments_invoice_reissue", _("Void and reissue…")))
        html = format_html_join(
            " ",
            '<a class="button" href="{}">{}</a>',
            ((reverse(name, args=[obj.pk]), label) for name, label in links),
        )
        if obj.replaced_by_id:
            html = format_html(
                '{} {} <a href="{}">{}</a>.',
                html,
                _("Replaced by"),
                reverse("admin:payments_invoice_change", args=[obj.replaced_by_id]),
                obj.replaced_by,
            )
        return html

    @admin.action(description=gettext_lazy("Mark selected bank-transfer invoices as paid"))
    def mark_bank_transfer_paid(self, request, queryset):
        done, refused = 0, []
        for invoice in queryset:
            try:
                invoice_mark_paid_by_transfer(invoice=invoice, actor=request.user)
                done += 1
            except ApplicationError as exc:
                refused.append(f"{invoice.number}: {exc.message}")
        if done:
            self.message_user(
                request,
                ngettext("Marked %(count)s invoice as paid.", "Marked %(count)s invoices as paid.", done)
                % {"count": done},
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.ERROR)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Refunds are made from the invoice ("Refund…"); here they are history."""

    list_display = [
        "idempotency_key",
        "tenant",
        "invoice",
        "amount_minor",
        "currency",
        "status",
        "stripe_refund_id",
        "credit_note",
        tenant_local("created_at", gettext_lazy("created")),
    ]
    list_filter = ["status", "currency"]
    search_fields = ["idempotency_key", "stripe_refund_id", "tenant__name", "invoice__number"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    """Disputes as Stripe reports them (respond in the Stripe dashboard)."""

    list_display = [
        "stripe_dispute_id",
        "tenant",
        "invoice",
        "amount_minor",
        "currency",
        "reason",
        "status",
        tenant_local("opened_at", gettext_lazy("opened at")),
    ]
    list_filter = ["status", "reason"]
    search_fields = ["stripe_dispute_id", "tenant__name", "invoice__number"]


class CouponForm(forms.ModelForm):
    class Meta:
        model = Coupon
        fields = [
            "name",
            "promotion_code",
            "kind",
            "percent_off",
            "amount_off",
            "currency",
            "applies_to",
            "duration",
            "duration_months",
            "plans",
            "redeem_by",
            "redemption_limit",
            "active",
        ]
        field_classes = {
            "promotion_code": TypedCharField,
            "percent_off": TypedDecimalField,
            "amount_off": TypedIntegerField,
            "duration_months": TypedIntegerField,
            "redemption_limit": TypedIntegerField,
        }
        help_texts = {
            "amount_off": gettext_lazy("In minor units: yen for JPY, cents for USD."),
            "percent_off": gettext_lazy("1–100; 100 makes the invoices ¥0 (they are still issued)."),
        }

    def clean_promotion_code(self):
        from payments.invoicing.discounts import normalise_promotion_code

        return normalise_promotion_code(self.cleaned_data.get("promotion_code") or "") or None

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == Coupon.Kind.PERCENT:
            if data.get("percent_off") is None or not 0 < data["percent_off"] <= 100:
                self.add_error("percent_off", _("Enter a percentage from 0.01 to 100."))
            data["amount_off"], data["currency"] = None, data.get("currency") or ""
        elif kind == Coupon.Kind.AMOUNT:
            if not data.get("amount_off"):
                self.add_error("amount_off", _("Enter the amount off in minor units."))
            elif data["amount_off"] >= 10**12:
                self.add_error("amount_off", _("That amount is too large."))
            if not data.get("currency"):
                self.add_error("currency", _("A fixed amount is in one currency: choose it."))
            data["percent_off"] = None
        if data.get("duration") == Coupon.Duration.REPEATING:
            if not data.get("duration_months") or not 1 <= data["duration_months"] <= 120:
                self.add_error("duration_months", _("For how many months (1–120)?"))
        else:
            data["duration_months"] = None
        if data.get("redemption_limit") is not None and data["redemption_limit"] < 1:
            self.add_error("redemption_limit", _("At least 1, or leave empty for no limit."))
        return data


@admin.register(Coupon)
class CouponAdmin(ServiceAdmin):
    """Ops create coupons here; attach one to a tenant under Discounts, or publish its promotion code."""

    form = CouponForm
    list_display = [
        "name",
        "promotion_code",
        "terms",
        "redeemed_count",
        "redemption_limit",
        operator_local("redeem_by", gettext_lazy("redeem by")),
        "active",
    ]
    list_filter = ["kind", "applies_to", "duration", "active"]
    search_fields = ["name", "promotion_code"]
    filter_horizontal = ["plans"]

    @admin.display(description=gettext_lazy("terms"))
    def terms(self, obj):
        return obj.summary

    def get_readonly_fields(self, request, obj=None):
        # A coupon in use keeps its terms; only its name, availability and limits change.
        if obj is not None and obj.discounts.exists():
            return [
                "kind",
                "percent_off",
                "amount_off",
                "currency",
                "applies_to",
                "duration",
                "duration_months",
                "redeemed_count",
            ]
        return ["redeemed_count"]

    def has_delete_permission(self, request, obj=None):
        return obj is None or not obj.discounts.exists()


class DiscountAdminForm(forms.ModelForm):
    class Meta:
        model = Discount
        fields = ["tenant", "coupon"]


@admin.register(Discount)
class DiscountAdmin(ServiceAdmin):
    """Sales-led: attach a coupon to a tenant (through the same service as a promotion code)."""

    form = DiscountAdminForm
    list_display = [
        "tenant",
        "coupon",
        "source",
        "starts_on",
        "ends_before",
        "used_once",
        tenant_local("created_at", gettext_lazy("created")),
    ]
    list_filter = ["source"]
    search_fields = ["tenant__name", "coupon__name"]
    autocomplete_fields = ["tenant"]

    def get_readonly_fields(self, request, obj=None):
        return (
            ["tenant", "coupon", "source", "starts_on", "ends_before", "used_once", "created_by"]
            if obj
            else []
        )

    def has_change_permission(self, request, obj=None):
        return obj is None

    def save_model(self, request, obj, form, change):
        from payments.invoicing.discounts import coupon_attach

        discount = coupon_attach(
            tenant=form.cleaned_data["tenant"],
            coupon=form.cleaned_data["coupon"],
            source=Discount.Source.ADMIN,
            actor=request.user,
        )
        obj.pk = discount.pk  # an ApplicationError comes back as a message (ServiceAdmin)
