from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from billing_portal.common.admin import ReadOnlyAdmin, ServiceAdmin, tenant_local
from billing_portal.common.exceptions import ApplicationError

from . import services
from .forms import TenantAdminForm
from .models import (
    ApiKey,
    AuditEntry,
    Invitation,
    Membership,
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
        (gettext_lazy("Personal info"), {"fields": ["name", "language"]}),
        (
            gettext_lazy("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (gettext_lazy("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    """Read-only here: members are added, re-roled and removed under Memberships (through the services, so the
    last-owner and contact rules hold)."""

    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tenant)
class TenantAdmin(ServiceAdmin):
    form = TenantAdminForm
    list_display = ["name", "slug", "country", "currency", "sales_model", "status", "created_at"]
    list_filter = ["status", "sales_model", "currency", "country"]
    search_fields = ["name", "slug", "memberships__user__email"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MembershipInline]
    raw_id_fields = ["representative", "payment_administrator"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "sales_model"]}),
        (
            gettext_lazy("Customer information"),
            {
                "fields": [
                    "postal_code",
                    "prefecture",
                    "address",
                    "phone",
                    "country",
                    "currency",
                    "time_zone",
                    "document_language",
                ]
            },
        ),
        (gettext_lazy("Contacts"), {"fields": ["representative", "payment_administrator"]}),
        (gettext_lazy("History"), {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The currency and time zone of an existing tenant are fixed: its invoices, credits and billing months are
        # in them. The status changes through services (suspension after limits, unsubscribe), never by hand.
        fields = [*super().get_readonly_fields(request, obj), "status"]
        if obj is not None:
            fields += ["slug", "currency", "time_zone"]
        return fields

    def has_delete_permission(self, request, obj=None):
        return False  # invoices are kept by law; customers leave through unsubscribe

    def save_model(self, request, obj, form, change):
        """Through the services: a new tenant gets its owner membership and Free license; contacts must be members."""
        if not change:
            if obj.representative is None:
                raise ApplicationError(_("Choose the representative: they become the new customer's owner."))
            created = services.tenant_create(
                owner=obj.representative,
                name=obj.name,
                postal_code=obj.postal_code,
                prefecture=obj.prefecture,
                address=obj.address,
                phone=obj.phone,
                country=obj.country,
                currency=obj.currency,
                time_zone=obj.time_zone,
                sales_model=obj.sales_model,
                **({"slug": obj.slug} if obj.slug else {}),
            )
            obj.pk = created.pk
            if (
                obj.payment_administrator_id
                and obj.payment_administrator_id != created.payment_administrator_id
            ):
                services.tenant_set_payment_administrator(
                    tenant=created, user=obj.payment_administrator, actor=request.user
                )
            return
        old = Tenant.objects.get(pk=obj.pk)
        data = {
            f: getattr(obj, f)
            for f in ("name", "postal_code", "prefecture", "address", "phone", "country", "document_language")
            if getattr(obj, f) != getattr(old, f)
        }
        if data:
            services.tenant_update(tenant=old, data=data)
        if obj.representative_id != old.representative_id:
            services.tenant_set_representative(tenant=old, user=obj.representative, actor=request.user)
        if obj.payment_administrator_id != old.payment_administrator_id:
            services.tenant_set_payment_administrator(
                tenant=old, user=obj.payment_administrator, actor=request.user
            )
        if obj.sales_model != old.sales_model:
            Tenant.objects.filter(pk=obj.pk).update(sales_model=obj.sales_model)


@admin.register(Membership)
class MembershipAdmin(ServiceAdmin):
    """Through the membership services: the last owner cannot be demoted or removed, contacts must be replaced
    before they are removed, and every change is in the audit log."""

    list_display = ["user", "tenant", "role", tenant_local("created_at", gettext_lazy("since"))]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "tenant", "created_at"] if obj else ["created_at"]

    def save_model(self, request, obj, form, change):
        if change:
            services.membership_change_role(
                membership=Membership.objects.get(pk=obj.pk), role=obj.role, actor=request.user
            )
        else:
            obj.pk = services.membership_add(tenant=obj.tenant, user=obj.user, role=obj.role).pk

    def delete_model(self, request, obj):
        services.membership_remove(membership=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for membership in queryset:
                services.membership_remove(membership=membership, actor=request.user)


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceAdmin):
    """Keys are created here and shown once; afterwards only the prefix is visible. Keys are revoked, never edited."""

    list_display = [
        "name",
        "prefix",
        "scope",
        "tenant",
        tenant_local("created_at", gettext_lazy("created")),
        tenant_local("revoked_at", gettext_lazy("revoked")),
        tenant_local("last_used_at", gettext_lazy("last used")),
    ]
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
            messages.warning(
                request, _("Copy the new API key now; it will not be shown again: %(key)s") % {"key": raw}
            )
            return
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=gettext_lazy("Revoke selected API keys"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request, ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", count) % {"count": count}
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log is append-only: nobody adds, edits or deletes entries here."""

    list_display = [tenant_local("created_at", gettext_lazy("when")), "tenant", "who", "what", "action"]
    list_filter = ["action"]
    search_fields = ["tenant__name", "actor_label", "action"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "tenant", "actor", "actor_label", "action", "data"]

    @admin.display(description=gettext_lazy("actor"), ordering="actor_label")
    def who(self, obj):
        return pgettext("audit actor", "System") if obj.actor_label == "system" else obj.actor_label

    @admin.display(description=gettext_lazy("action"))
    def what(self, obj):
        return obj.action_label


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "tenant",
        "role",
        tenant_local("created_at", gettext_lazy("sent")),
        tenant_local("expires_at", gettext_lazy("expires")),
        tenant_local("accepted_at", gettext_lazy("accepted")),
        tenant_local("revoked_at", gettext_lazy("revoked")),
    ]
    search_fields = ["email", "tenant__name"]
    readonly_fields = [
        "tenant",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
    ]

    def has_add_permission(self, request):
        return False
