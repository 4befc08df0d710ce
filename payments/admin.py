from django.contrib import admin

from .models import Credit, PaymentAccount


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
