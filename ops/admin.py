from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing_portal.common.admin import ReadOnlyAdmin
from billing_portal.common.clock import local_text
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.forms import TypedIntegerField

from . import webhook_delivery
from .models import EventType, TestClock, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        label=gettext_lazy("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=gettext_lazy("https://… (loopback, link-local and private addresses are refused)"),
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "enabled"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            webhook_delivery.endpoint_validate_url(url)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "enabled", "event_list", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "description"]
    readonly_fields = ["secret", "created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        return False  # disable an endpoint instead: its delivery log stays, and no event can reference a gone row

    @admin.display(description=gettext_lazy("events"))
    def event_list(self, obj):
        return ", ".join(obj.events)

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "events", "enabled"]
        return fields + ["secret", "created_at"] if obj else fields


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = [
        "number",
        "attempt_id",
        "status",
        "started_at",
        "response_status",
        "latency_ms",
        "response_excerpt",
        "error",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: one row per event and endpoint, its attempts underneath."""

    list_display = [
        "event_type",
        "tenant",
        "status",
        "last_response",
        "last_latency",
        "attempt_count",
        "next_attempt_at",
        "endpoint",
    ]
    list_filter = ["status", "event__type", "endpoint"]
    search_fields = ["event__message_id", "event__tenant__slug", "endpoint__url"]
    list_select_related = ["event__tenant", "endpoint"]
    inlines = [WebhookAttemptInline]
    actions = ["resend"]
    fields = [
        "event",
        "message_id",
        "endpoint",
        "status",
        "attempt_count",
        "next_attempt_at",
        "window_started_at",
        "delivered_at",
        "created_at",
        "payload",
    ]
    readonly_fields = fields

    def has_change_permission(self, request, obj=None):
        return request.user.is_staff  # the action; every field stays read-only

    def get_queryset(self, request):
        from django.db.models import OuterRef, Subquery

        last = WebhookAttempt.objects.filter(delivery=OuterRef("pk")).order_by("-number")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_status=Subquery(last.values("response_status")[:1]),
                last_latency_ms=Subquery(last.values("latency_ms")[:1]),
                last_excerpt=Subquery(last.values("response_excerpt")[:1]),
            )
        )

    @admin.display(description=gettext_lazy("event"), ordering="event__type")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description=gettext_lazy("tenant"))
    def tenant(self, obj):
        return obj.event.tenant or "—"

    @admin.display(description=gettext_lazy("last response"))
    def last_response(self, obj):
        if obj.last_status is None:
            return "—"
        return format_html("{} <small>{}</small>", obj.last_status, (obj.last_excerpt or "")[:80])

    @admin.display(description=gettext_lazy("latency"))
    def last_latency(self, obj):
        return "—" if obj.last_latency_ms is None else f"{obj.last_latency_ms} ms"

    @admin.display(description="webhook-id")
    def message_id(self, obj):
        return obj.event.message_id

    @admin.display(description=gettext_lazy("payload"))
    def payload(self, obj):
        import json

        return format_html("<pre>{}</pre>", json.dumps(obj.event.payload, indent=2, ensure_ascii=False))

    @admin.action(description=gettext_lazy("Resend selected deliveries"))
    def resend(self, request, queryset):
        for delivery in queryset:
            webhook_delivery.delivery_resend(delivery=delivery)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)s delivery queued again.", "%(count)s deliveries queued again.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["type", "message_id", "tenant", "created_at"]
    list_filter = ["type"]
    search_fields = ["message_id", "tenant__slug"]
    readonly_fields = ["type", "message_id", "tenant", "payload", "created_at"]


class TestClockCreateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Test tenant name"), max_length=200)
    owner = forms.ModelChoiceField(
        label=gettext_lazy("Owner"),
        queryset=None,
        help_text=gettext_lazy("The user who owns the test tenant (signs in to it)."),
    )
    currency = forms.ChoiceField(
        label=gettext_lazy("Currency"), choices=[("JPY", "JPY"), ("USD", "USD")], initial="JPY"
    )
    time_zone = forms.CharField(label=gettext_lazy("Time zone"), initial="Asia/Tokyo")
    frozen_time = forms.DateTimeField(
        label=gettext_lazy("Clock starts at"),
        help_text=gettext_lazy("e.g. 2027-01-10 09:00 (the time zone above)"),
    )

    def __init__(self, *args, **kwargs):
        from accounts.models import User

        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(is_active=True)

    def clean_time_zone(self):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.cleaned_data["time_zone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(_("Unknown time zone.")) from None
        return self.cleaned_data["time_zone"]


class TestClockAdvanceForm(forms.Form):
    months = TypedIntegerField(
        label=gettext_lazy("Months"), min_value=0, max_value=36, initial=1, required=False
    )
    days = TypedIntegerField(
        label=gettext_lazy("Days"), min_value=0, max_value=1000, initial=0, required=False
    )


@admin.register(TestClock)
class TestClockAdmin(admin.ModelAdmin):
    """Ops create a test tenant on its own clock and advance it (months / days); the page lists what ran."""

    list_display = ["__str__", "tenant", "frozen_time_local", "advance_link"]
    readonly_fields = ["tenant", "frozen_time"]

    @admin.display(description=gettext_lazy("clock (tenant's time zone)"))
    def frozen_time_local(self, obj):
        return local_text(obj.frozen_time, obj.tenant.time_zone)

    @admin.display(description="")
    def advance_link(self, obj):
        from django.urls import reverse

        return format_html(
            '<a href="{}">{}</a>', reverse("admin:ops_testclock_advance", args=[obj.pk]), _("Advance…")
        )

    def get_urls(self):
        from django.urls import path

        return [
            path("add/", self.admin_site.admin_view(self.create_view), name="ops_testclock_add"),
            path(
                "<int:pk>/advance/",
                self.admin_site.admin_view(self.advance_view),
                name="ops_testclock_advance",
            ),
        ] + super().get_urls()

    def create_view(self, request):
        from zoneinfo import ZoneInfo

        from django.shortcuts import redirect, render

        from .test_clocks import test_clock_create

        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TestClockCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            tz = ZoneInfo(data["time_zone"])
            test_clock = test_clock_create(
                owner=data["owner"],
                name=data["name"],
                currency=data["currency"],
                time_zone=data["time_zone"],
                country="JP" if data["currency"] == "JPY" else "US",
                frozen_time=data["frozen_time"].replace(tzinfo=None).replace(tzinfo=tz),
            )
            self.message_user(
                request,
                _("Test tenant %(slug)s created on its own clock.") % {"slug": test_clock.tenant.slug},
                messages.SUCCESS,
            )
            return redirect("admin:ops_testclock_changelist")
        return render(
            request,
            "ops/test_clock_form.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Create a test tenant"),
                "form": form,
                "opts": self.model._meta,
            },
        )

    def advance_view(self, request, pk):
        from django.shortcuts import get_object_or_404, redirect, render

        from .test_clocks import advance_target, test_clock_advance

        test_clock = get_object_or_404(TestClock.objects.select_related("tenant"), pk=pk)
        if not self.has_change_permission(request, test_clock):
            raise PermissionDenied
        form = TestClockAdvanceForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            target = advance_target(
                test_clock.frozen_time,
                months=form.cleaned_data["months"] or 0,
                days=form.cleaned_data["days"] or 0,
                tz_name=test_clock.tenant.time_zone,
            )
            try:
                log = test_clock_advance(test_clock=test_clock, to=target)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                ran = [
                    f"{at:%Y-%m-%d %H:%M}: {', '.join(f'{k} {v}' for k, v in r.items() if v)}"
                    for at, r in log
                    if any(r.values())
                ]
                self.message_user(
                    request,
                    _("%(slug)s advanced to %(when)s UTC. %(ran)s")
                    % {
                        "slug": test_clock.tenant.slug,
                        "when": f"{target:%Y-%m-%d %H:%M}",
                        "ran": "; ".join(ran) if ran else _("Nothing was due."),
                    },
                    messages.SUCCESS,
                )
                return redirect("admin:ops_testclock_changelist")
        return render(
            request,
            "ops/test_clock_form.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Advance %(clock)s") % {"clock": test_clock},
                "form": form,
                "opts": self.model._meta,
                "test_clock": test_clock,
            },
        )
