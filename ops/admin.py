from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from billing_portal.common.admin import ReadOnlyAdmin
from billing_portal.common.exceptions import ApplicationError

from . import webhook_delivery
from .models import EventType, TestClock, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https",
                         help_text="https://… (loopback, link-local and private addresses are refused)")
    events = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)

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

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events)

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "events", "enabled"]
        return fields + ["secret", "created_at"] if obj else fields


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "attempt_id", "status", "started_at", "response_status", "latency_ms",
              "response_excerpt", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: one row per event and endpoint, its attempts underneath."""

    list_display = ["event_type", "message_id", "endpoint", "status", "attempt_count", "last_response",
                    "last_latency", "next_attempt_at", "created_at"]
    list_filter = ["status", "event__type", "endpoint"]
    search_fields = ["event__message_id", "event__tenant__slug", "endpoint__url"]
    list_select_related = ["event", "endpoint"]
    inlines = [WebhookAttemptInline]
    actions = ["resend"]
    fields = ["event", "endpoint", "status", "attempt_count", "next_attempt_at", "window_started_at",
              "delivered_at", "created_at", "payload"]
    readonly_fields = fields

    def has_change_permission(self, request, obj=None):
        return request.user.is_staff  # the action; every field stays read-only

    def get_queryset(self, request):
        from django.db.models import OuterRef, Subquery

        last = WebhookAttempt.objects.filter(delivery=OuterRef("pk")).order_by("-number")
        return super().get_queryset(request).annotate(
            last_status=Subquery(last.values("response_status")[:1]),
            last_latency_ms=Subquery(last.values("latency_ms")[:1]),
            last_excerpt=Subquery(last.values("response_excerpt")[:1]),
        )

    @admin.display(description="event", ordering="event__type")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description="webhook-id")
    def message_id(self, obj):
        return obj.event.message_id

    @admin.display(description="last response")
    def last_response(self, obj):
        if obj.last_status is None:
            return "—"
        return format_html("{} <small>{}</small>", obj.last_status, (obj.last_excerpt or "")[:80])

    @admin.display(description="latency")
    def last_latency(self, obj):
        return "—" if obj.last_latency_ms is None else f"{obj.last_latency_ms} ms"

    @admin.display(description="payload")
    def payload(self, obj):
        import json

        return format_html("<pre>{}</pre>", json.dumps(obj.event.payload, indent=2, ensure_ascii=False))

    @admin.action(description="Resend selected deliveries")
    def resend(self, request, queryset):
        for delivery in queryset:
            webhook_delivery.delivery_resend(delivery=delivery)
        self.message_user(request, f"{queryset.count()} deliveries queued again.", messages.SUCCESS)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["type", "message_id", "tenant", "created_at"]
    list_filter = ["type"]
    search_fields = ["message_id", "tenant__slug"]
    readonly_fields = ["type", "message_id", "tenant", "payload", "created_at"]


@admin.register(TestClock)
class TestClockAdmin(admin.ModelAdmin):
    list_display = ["__str__", "tenant", "frozen_time"]
    readonly_fields = ["tenant", "frozen_time"]

    def has_add_permission(self, request):
        return False
