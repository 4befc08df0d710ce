from django.contrib import admin

from .models import License, Plan


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "category", "license_type", "currency", "interval", "max_rps", "max_users", "max_mau"]
    list_filter = ["category", "license_type", "currency", "interval"]
    search_fields = ["name", "code"]


@admin.register(License)
class LicenseAdmin(admin.ModelAdmin):
    list_display = ["tenant", "plan", "current_period_start", "current_period_end", "auto_renew"]
    list_filter = ["plan__license_type", "auto_renew"]
    search_fields = ["tenant__name", "tenant__slug"]
    readonly_fields = ["tenant", "plan", "started_at", "current_period_start", "current_period_end", "auto_renew"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
