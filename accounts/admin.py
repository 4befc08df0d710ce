from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils import timezone

from billing_portal.common.admin import ReadOnlyAdmin, tenant_local

from .models import (
    ApiKey,
    AuditEntry,
    EndUser,
    Invitation,
    Membership,
    RelyingParty,
    Tenant,
    User,
    hash_api_key,
)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "last_login", "date_joined"]
    search_fields = ["email", "name"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "country", "currency", "sales_model", "status", "created_at"]
    list_filter = ["status", "sales_model", "currency", "country"]
    search_fields = ["name", "slug", "memberships__user__email"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MembershipInline]
    raw_id_fields = ["representative", "payment_administrator"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "sales_model"]}),
        ("Customer information", {"fields": ["address", "phone", "country", "currency", "time_zone"]}),
        ("Contacts", {"fields": ["representative", "payment_administrator"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The currency of an existing tenant is fixed: its invoices and credits are in that currency.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["slug", "currency"]
        return fields


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", tenant_local("created_at", "since")]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]
    readonly_fields = ["created_at"]


@admin.register(RelyingParty)
class RelyingPartyAdmin(admin.ModelAdmin):
    list_display = ["rp_id", "name", "tenant", tenant_local("created_at", "registered")]
    search_fields = ["rp_id", "name", "tenant__name"]
    autocomplete_fields = ["tenant"]


@admin.register(EndUser)
class EndUserAdmin(admin.ModelAdmin):
    list_display = ["user_id", "display_name", "tenant", tenant_local("created_at", "registered")]
    search_fields = ["user_id", "tenant__name"]
    autocomplete_fields = ["tenant"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here and shown once; afterwards only the prefix is visible. Keys are revoked, never edited."""

    list_display = ["name", "prefix", "scope", "tenant", "created_at", "revoked_at", "last_used_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "tenant__name"]
    autocomplete_fields = ["tenant"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scope", "tenant"]
        return ["name", "scope", "tenant", "prefix", "created_by", "created_at", "revoked_at", "last_used_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return self.get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            raw = ApiKey.generate_raw_key()
            obj.prefix = raw[: 3 + ApiKey.PREFIX_LENGTH]
            obj.key_hash = hash_api_key(raw)
            obj.created_by = request.user
            super().save_model(request, obj, form, change)
            messages.warning(request, f"Copy the new API key now; it will not be shown again: {raw}")
            return
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} key(s).")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log is append-only: nobody adds, edits or deletes entries here."""

    list_display = [tenant_local("created_at", "when"), "tenant", "actor_label", "action"]
    list_filter = ["action"]
    search_fields = ["tenant__name", "actor_label", "action"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "tenant", "actor", "actor_label", "action", "data"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "role", tenant_local("created_at", "sent"), tenant_local("expires_at", "expires"),
                    tenant_local("accepted_at", "accepted"), tenant_local("revoked_at", "revoked")]
    search_fields = ["email", "tenant__name"]
    readonly_fields = ["tenant", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at", "accepted_by"]

    def has_add_permission(self, request):
        return False
