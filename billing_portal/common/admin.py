from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """History and counters that only services write: ops can look, nobody adds, edits or deletes here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def tenant_local(field: str, description: str | None = None):
    """A list/detail column showing `obj.<field>` in the tenant's time zone with its abbreviation
    (admin itself runs in UTC; a Tokyo tenant's 1 April 00:00 must not read as 31 March)."""
    from django.conf import settings

    from .clock import local_text

    def column(obj):
        tenant = getattr(obj, "tenant", None)
        tz = tenant.time_zone if tenant is not None else settings.BILLING_TIME_ZONE
        return local_text(getattr(obj, field), tz) or "—"

    column.short_description = description or field.replace("_", " ")
    column.admin_order_field = field
    column.__name__ = f"{field}_local"
    return column


def operator_local(field: str, description: str | None = None):
    """A column for rows that belong to no tenant (credit codes): in BILLING_TIME_ZONE, with its abbreviation."""
    from django.conf import settings

    from .clock import local_text

    def column(obj):
        return local_text(getattr(obj, field), settings.BILLING_TIME_ZONE) or "—"

    column.short_description = description or field.replace("_", " ")
    column.admin_order_field = field
    column.__name__ = f"{field}_local"
    return column
