from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import EndUser, RelyingParty
from billing_portal.common.admin import ReadOnlyAdmin, ServiceAdmin, tenant_local
from billing_portal.common.clock import local_text
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import format_money

from . import catalogue, registrations
from .models import License, Menu, Plan, PlanChange, PlanReservation, PricingTier, PricingUnit, ProrationItem
from .selectors import plan_history
from .services import plan_change


class PricingTierInline(admin.TabularInline):
    model = PricingTier
    extra = 1


class PricingUnitForm(forms.ModelForm):
    class Meta:
        model = PricingUnit
        fields = [
            "unit_name",
            "display_name",
            "description",
            "type",
            "metering_unit",
            "currency",
            "interval",
            "unit_amount",
            "tax_category",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tax_category"].required = False  # not sent: the unit keeps its category (new: standard)

    def clean_tax_category(self):
        return self.cleaned_data.get("tax_category") or self.instance.tax_category or "standard"

    def clean(self):
        data = super().clean()
        if self.instance.pk and not self.errors:
            probe = PricingUnit(
                pk=self.instance.pk,
                unit_name=self.instance.unit_name,
                interval=data.get("interval"),
                currency=data.get("currency"),
            )
            problems = catalogue.unit_problems(unit=probe)
            if problems:
                raise ValidationError({"interval": problems})
        return data


@admin.register(PricingUnit)
class PricingUnitAdmin(admin.ModelAdmin):
    form = PricingUnitForm
    list_display = [
        "unit_name",
        "display_name",
        "type",
        "metering_unit",
        "currency",
        "interval",
        "price",
        "tax_category",
    ]
    list_filter = ["type", "currency", "interval"]
    search_fields = ["unit_name", "display_name"]
    inlines = [PricingTierInline]

    @admin.display(description=gettext_lazy("unit price"))
    def price(self, obj):
        return format_money(obj.unit_amount, obj.currency)


class MenuForm(forms.ModelForm):
    class Meta:
        model = Menu
        fields = ["name", "display_name", "units"]

    def clean_units(self):
        units = self.cleaned_data["units"]
        problems = catalogue.menu_problems(menu=self.instance, units=units)
        if problems:
            raise ValidationError(problems)
        return units


@admin.register(Menu)
class MenuAdmin(admin.ModelAdmin):
    form = MenuForm
    list_display = ["name", "display_name"]
    search_fields = ["name", "display_name"]
    filter_horizontal = ["units"]


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = [
            "code",
            "name",
            "category",
            "license_type",
            "currency",
            "interval",
            "menus",
            "max_rps",
            "max_users",
            "max_mau",
            "mau_overage_unit_amount",
            "is_public",
            "sort_order",
        ]

    def clean(self):
        data = super().clean()
        menus = data.get("menus")
        if menus is None:
            return data
        units = PricingUnit.objects.filter(menus__in=menus).distinct()
        problems = catalogue.plan_problems(
            interval=data.get("interval"), currency=data.get("currency"), units=units, name=_("A plan")
        )
        if problems:
            raise ValidationError({"menus": problems})
        self.instance._pending_menus = list(menus)
        limits = catalogue.plan_limit_problems(
            plan=self.instance, max_rps=data.get("max_rps"), max_users=data.get("max_users")
        )
        if limits:
            raise ValidationError(limits)
        return data


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    form = PlanForm
    list_display = [
        "name",
        "code",
        "category",
        "license_type",
        "currency",
        "interval",
        "max_rps",
        "max_users",
        "max_mau",
    ]
    list_filter = ["category", "license_type", "currency", "interval"]
    search_fields = ["name", "code"]
    filter_horizontal = ["menus"]


class ChangePlanForm(forms.Form):
    plan = forms.ModelChoiceField(label=gettext_lazy("Plan"), queryset=Plan.objects.none())
    when = forms.ChoiceField(
        label=gettext_lazy("When"),
        choices=[
            ("now", gettext_lazy("Now (prorated, invoiced at once)")),
            ("next_period", gettext_lazy("Next period")),
        ],
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = Plan.objects.filter(
            category=Plan.Category.LICENSE, currency=tenant.currency
        ).exclude(license_type="free")


@admin.register(License)
class LicenseAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "plan",
        tenant_local("current_period_start", gettext_lazy("period start")),
        tenant_local("current_period_end", gettext_lazy("period end")),
        "auto_renew",
    ]
    list_filter = ["plan__license_type", "auto_renew"]
    search_fields = ["tenant__name", "tenant__slug"]
    readonly_fields = [
        "tenant",
        "plan",
        "started_at",
        "current_period_start",
        "current_period_end",
        "auto_renew",
        "change_plan_link",
        "plan_history",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only; ops change plans through "Change plan" (services, always_invoice)

    @admin.display(description=gettext_lazy("Plan history"))
    def plan_history(self, obj):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    local_text(c.effective_at, obj.tenant.time_zone),
                    c.get_kind_display(),
                    c.from_plan.name if c.from_plan else "—",
                    c.to_plan.name,
                    c.proration_behavior or "—",
                    c.get_source_display(),
                    format_money(c.difference_amount, c.currency),
                )
                for c in plan_history(tenant=obj.tenant)
            ),
        )
        if not rows:
            return _("No plan changes yet.")
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("When"),
            _("Kind"),
            _("Change"),
            _("Proration"),
            _("Source"),
            _("Difference"),
            rows,
        )

    @admin.display(description=gettext_lazy("Ops"))
    def change_plan_link(self, obj):
        url = reverse("admin:licenses_license_change_plan", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Change plan (always_invoice)"))

    def get_urls(self):
        return [
            path(
                "<int:pk>/change-plan/",
                self.admin_site.admin_view(self.change_plan_view),
                name="licenses_license_change_plan",
            ),
            *super().get_urls(),
        ]

    def change_plan_view(self, request, pk):
        if not request.user.has_perm("licenses.change_license"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        license = get_object_or_404(License.objects.select_related("tenant", "plan"), pk=pk)
        tenant = license.tenant
        form = ChangePlanForm(request.POST or None, tenant=tenant)
        if request.method == "POST" and form.is_valid():
            try:
                plan_change(
                    tenant=tenant,
                    plan=form.cleaned_data["plan"],
                    when=form.cleaned_data["when"],
                    proration_behavior="always_invoice",
                    actor=request.user,
                    source=PlanChange.Source.ADMIN,
                    by_operator=True,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    _("%(tenant)s: plan change to %(plan)s done.")
                    % {"tenant": tenant.name, "plan": form.cleaned_data["plan"]},
                )
                return redirect("admin:licenses_license_change", pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Change plan of %(tenant)s") % {"tenant": tenant.name},
            "form": form,
            "license": license,
            "opts": self.model._meta,
        }
        return render(request, "admin/licenses/change_plan.html", context)


@admin.register(PlanChange)
class PlanChangeAdmin(ReadOnlyAdmin):
    list_display = [
        "tenant",
        "kind",
        "from_plan",
        "to_plan",
        tenant_local("effective_at", gettext_lazy("effective")),
        "proration_behavior",
        "source",
        "difference_amount",
        "currency",
    ]
    list_filter = ["kind", "source", "proration_behavior"]
    search_fields = ["tenant__name", "tenant__slug"]


@admin.register(PlanReservation)
class PlanReservationAdmin(PlanChangeAdmin):
    list_display = [
        "tenant",
        "plan",
        tenant_local("effective_at", gettext_lazy("effective")),
        "status",
        "source",
        tenant_local("created_at", gettext_lazy("created")),
    ]
    list_filter = ["status", "source"]


@admin.register(ProrationItem)
class ProrationItemAdmin(PlanChangeAdmin):
    list_display = [
        "tenant",
        "description",
        "amount",
        "billing",
        "status",
        tenant_local("created_at", gettext_lazy("created")),
    ]
    list_filter = ["billing", "status"]

    @admin.display(description=gettext_lazy("amount"))
    def amount(self, obj):
        return format_money(obj.amount_minor, obj.currency)


# --- RPs and end users (accounts' models; registered here because the license's limits apply) ---


class _RegistrationAdmin(ServiceAdmin):
    """RPs and end users are registered through the same service as the portal (license limits, including a
    pending downgrade's) and removed through it (audit entry, reactivation of a suspended tenant)."""

    autocomplete_fields = ["tenant"]
    id_field = ""
    name_field = ""

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", self.id_field, "created_at"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            type(obj).objects.filter(pk=obj.pk).update(**{self.name_field: getattr(obj, self.name_field)})
            return
        obj.pk = self.register(
            tenant=obj.tenant,
            **{self.id_field: getattr(obj, self.id_field), self.name_field: getattr(obj, self.name_field)},
        ).pk

    def delete_model(self, request, obj):
        self.remove(tenant=obj.tenant, actor=request.user, **{self.id_field: getattr(obj, self.id_field)})

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset.select_related("tenant"):
                self.delete_model(request, obj)


@admin.register(RelyingParty)
class RelyingPartyAdmin(_RegistrationAdmin):
    list_display = ["rp_id", "name", "tenant", tenant_local("created_at", gettext_lazy("registered"))]
    search_fields = ["rp_id", "name", "tenant__name"]
    id_field, name_field = "rp_id", "name"

    def register(self, **kwargs):
        return registrations.relying_party_register(**kwargs)

    def remove(self, **kwargs):
        return registrations.relying_party_remove(**kwargs)


@admin.register(EndUser)
class EndUserAdmin(_RegistrationAdmin):
    list_display = [
        "user_id",
        "display_name",
        "tenant",
        tenant_local("created_at", gettext_lazy("registered")),
    ]
    search_fields = ["user_id", "tenant__name"]
    id_field, name_field = "user_id", "display_name"

    def register(self, **kwargs):
        return registrations.end_user_register(**kwargs)

    def remove(self, **kwargs):
        return registrations.end_user_remove(**kwargs)
