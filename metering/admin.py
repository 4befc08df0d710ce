from django.contrib import admin
from django.utils.translation import gettext_lazy

from billing_portal.common.admin import ReadOnlyAdmin, tenant_local

from .models import MauAlert, MauAlertSetting, MauCounter, MeteringUnit, MeterReading


@admin.register(MeteringUnit)
class MeteringUnitAdmin(admin.ModelAdmin):
    list_display = ["unit_name", "display_name", "aggregation", "created_at"]
    list_filter = ["aggregation"]
    search_fields = ["unit_name", "display_name"]


@admin.register(MauCounter)
class MauCounterAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "month", "rp_id", "mau", "events"]
    list_filter = ["month"]
    search_fields = ["tenant__slug", "tenant__name", "rp_id"]
    list_select_related = ["tenant"]


@admin.register(MeterReading)
class MeterReadingAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "unit", "rp_id", "timestamp", "count"]
    list_filter = ["unit"]
    search_fields = ["tenant__slug", "rp_id"]
    list_select_related = ["tenant", "unit"]


@admin.register(MauAlertSetting)
class MauAlertSettingAdmin(admin.ModelAdmin):
    list_display = ["tenant", "notify_representative", "threshold", "updated_at"]
    search_fields = ["tenant__slug", "tenant__name"]


@admin.register(MauAlert)
class MauAlertAdmin(ReadOnlyAdmin):
    list_display = [
        "tenant",
        "month",
        "threshold",
        "mau_at_alert",
        "notified_to",
        tenant_local("notified_at", gettext_lazy("notified at")),
    ]
    list_filter = ["month"]
    search_fields = ["tenant__slug", "tenant__name"]
