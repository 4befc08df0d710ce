from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """History and counters that only services write: ops can look, nobody adds, edits or deletes here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
