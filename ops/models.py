import base64
import secrets

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    """The events an endpoint can subscribe to (outgoing webhooks)."""

    INVOICE_ISSUED = "invoice.issued", "invoice.issued"
    INVOICE_PAID = "invoice.paid", "invoice.paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed", "invoice.payment_failed"
    INVOICE_REFUNDED = "invoice.refunded", _("invoice.refunded (credit note)")
    LICENSE_CHANGED = "license.changed", "license.changed"
    LICENSE_RESERVATION_SET = "license.reservation_set", "license.reservation_set"
    LICENSE_CANCELLED = "license.cancelled", "license.cancelled"
    MAU_THRESHOLD_REACHED = "mau.threshold_reached", "mau.threshold_reached"
    CREDIT_REDEEMED = "credit.redeemed", "credit.redeemed"
    TENANT_CREATED = "tenant.created", "tenant.created"
    TENANT_UNSUBSCRIBED = "tenant.unsubscribed", "tenant.unsubscribed"


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(models.Model):
    """Where ops want events sent. Each endpoint signs with its own secret."""

    url = models.URLField(
        _("URL"), max_length=500, help_text=_("https://… (private and loopback addresses are refused)")
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = models.JSONField(_("events"), default=list, help_text=_("Event types sent to this endpoint."))
    enabled = models.BooleanField(_("enabled"), default=True)
    secret = models.CharField(_("signing secret"), max_length=100, default=new_signing_secret, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["url"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self):
        return self.description or self.url


class WebhookEvent(models.Model):
    """The outbox: one row per event, written in the transaction of the change that caused it (so a rolled-back
    change sends nothing, and a committed one is delivered even if every worker dies). `message_id` is the
    Standard Webhooks `webhook-id`: the same for every attempt, so receivers can de-duplicate."""

    message_id = models.CharField(_("message ID"), max_length=40, unique=True)
    type = models.CharField(_("type"), max_length=64, choices=EventType.choices, db_index=True)
    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tenant"),
    )
    payload = models.JSONField(_("payload"), help_text=_("The body sent: {type, timestamp, data}."))
    created_at = models.DateTimeField(_("created at"), db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")

    def __str__(self):
        return f"{self.type} {self.message_id}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: pending until an attempt gets a 2xx, retried with exponential backoff for
    three days, then failed (ops can resend)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed (gave up)")

    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries", verbose_name=_("endpoint")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(_("attempt count"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    window_started_at = models.DateTimeField(
        _("window started at"), help_text=_("Retries stop three days after this (reset by a resend).")
    )
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="uniq_delivery_per_endpoint")
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_due")
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """The delivery log: one row per HTTP request, committed (status `sending`) before the request leaves, so
    a worker killed mid-request leaves a visible attempt. Such an attempt is never sent again: the sweeper marks
    it `abandoned` and the delivery continues with a new attempt (a new `attempt_id`)."""

    class Status(models.TextChoices):
        SENDING = "sending", _("Sending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        ABANDONED = "abandoned", _("Abandoned (worker died; outcome unknown)")

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("delivery")
    )
    number = models.PositiveIntegerField(_("number"))
    attempt_id = models.CharField(_("attempt ID"), max_length=40, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SENDING)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    response_status = models.PositiveIntegerField(_("response status"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    response_excerpt = models.TextField(_("response excerpt"), blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="uniq_attempt_number")]
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")

    def __str__(self):
        return f"{self.attempt_id} ({self.get_status_display()})"


class TestClock(models.Model):
    """A test tenant's own clock (as Stripe's test clocks): it stands still until ops advance it, and
    everything that asks `clock.now(tenant=…)` for this tenant sees it. Test tenants are left out of revenue
    figures and exports, and the global beat tasks leave them to their clock."""

    __test__ = False  # not a pytest class

    tenant = models.OneToOneField(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="test_clock", verbose_name=_("tenant")
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    frozen_time = models.DateTimeField(_("frozen time"), help_text=_("The tenant's current time."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("test clock")
        verbose_name_plural = _("test clocks")

    def __str__(self):
        return self.name or _("Test clock of %(tenant)s") % {"tenant": self.tenant}
