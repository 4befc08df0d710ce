from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from billing_portal.common.exceptions import ApplicationError

from .invoicing import credit_code_issue, format_code, invoice_mark_paid_by_transfer
from .models import Credit, CreditCode, Invoice, InvoiceLine, PaymentAccount


@admin.register(PaymentAccount)
class PaymentAccountAdmin(admin.ModelAdmin):
    list_display = ["stripe_customer_id", "tenant", "name", "email", "created_at"]
    search_fields = ["stripe_customer_id", "tenant__name", "name", "email"]
    autocomplete_fields = ["tenant"]


@admin.register(Credit)
class CreditAdmin(admin.ModelAdmin):
    """Credits are history: read-only here; they are granted by services (codes, prorations)."""

    list_display = ["name", "tenant", "source", "currency", "amount_charged", "amount_used", "expires_at", "registered_at"]
    list_filter = ["source", "currency"]
    search_fields = ["name", "tenant__name", "source_key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CreditCodeForm(forms.ModelForm):
    class Meta:
        model = CreditCode
        fields = ["name", "currency", "amount", "expires_at", "redemption_limit"]
        help_texts = {"amount": "In minor units: yen for JPY, cents for USD."}


@admin.register(CreditCode)
class CreditCodeAdmin(admin.ModelAdmin):
    """Ops issue credit codes here; the code is generated (80 random bits) and never editable."""

    form = CreditCodeForm
    list_display = ["name", "display_code", "currency", "amount", "expires_at", "redeemed_count", "redemption_limit"]
    list_filter = ["currency"]
    search_fields = ["name", "code"]
    readonly_fields = ["display_code", "redeemed_count", "created_by", "created_at"]

    @admin.display(description="code")
    def display_code(self, obj):
        return format_code(obj.code) if obj and obj.code else "(generated on save)"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["display_code"]
        # Issued codes are history: nothing but the name can change.
        return ["display_code", "currency", "amount", "expires_at", "redemption_limit", "redeemed_count",
                "created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            issued = credit_code_issue(
                name=obj.name, amount=obj.amount, currency=obj.currency, expires_at=obj.expires_at,
                redemption_limit=obj.redemption_limit, created_by=request.user,
            )
        except ApplicationError as exc:
            raise ValidationError(exc.message) from exc
        obj.pk, obj.code = issued.pk, issued.code
        messages.info(request, f"Credit code issued: {format_code(issued.code)}")

    def has_delete_permission(self, request, obj=None):
        return False


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ["position", "description", "quantity", "unit_amount", "amount"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Issued invoices are never edited here; ops only mark bank-transfer invoices as paid."""

    list_display = ["number", "tenant", "kind", "billing_date", "currency", "payment_amount", "status", "payment_method"]
    list_filter = ["status", "kind", "payment_method", "currency"]
    search_fields = ["number", "receipt_id", "tenant__name"]
    date_hierarchy = "billing_date"
    inlines = [InvoiceLineInline]
    actions = ["mark_bank_transfer_paid"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Invoice._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark selected bank-transfer invoices as paid")
    def mark_bank_transfer_paid(self, request, queryset):
        done, refused = 0, []
        for invoice in queryset:
            try:
                invoice_mark_paid_by_transfer(invoice=invoice, actor=request.user)
                done += 1
            except ApplicationError as exc:
                refused.append(f"{invoice.number}: {exc.message}")
        if done:
            self.message_user(request, f"Marked {done} invoice(s) as paid.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)
