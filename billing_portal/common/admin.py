from django.contrib import admin, messages


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


def safe_autocomplete_widget(db_field, admin_site, using=None):
    """Django's AutocompleteSelect re-rendering a form whose posted value is not a valid id (e.g. "abc" for an
    integer key) filters the queryset with it and raises ValueError — a 500 instead of the field error the form
    already has. This one only renders the values that are valid choices."""
    from django.contrib.admin.widgets import AutocompleteSelect
    from django.core.exceptions import ValidationError

    class _Safe(AutocompleteSelect):
        def optgroups(self, name, value, attr=None):
            field = self.choices.field
            valid = []
            for item in value:
                try:
                    field.to_python(item)
                except (ValidationError, ValueError, TypeError):
                    continue
                valid.append(item)
            return super().optgroups(name, valid, attr)

    return _Safe(db_field, admin_site, using=using)


class ServiceAdmin(admin.ModelAdmin):
    """Admin whose writes go through services: an ApplicationError from `save_model` / `delete_model` rolls the
    request back and comes back as an error message on the same page (never a 500). Autocomplete widgets are the
    safe ones."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = safe_autocomplete_widget(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _guarded(self, request, view, *args, **kwargs):
        from django.shortcuts import redirect

        from .exceptions import ApplicationError

        try:
            return view(request, *args, **kwargs)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return redirect(request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._guarded(request, super().changeform_view, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._guarded(request, super().delete_view, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        return self._guarded(request, super().changelist_view, extra_context)
