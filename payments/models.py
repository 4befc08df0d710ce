from django.db import models
from django.db.models import F, Q

from billing_portal.common.money import CURRENCY_CHOICES


class PaymentAccount(models.Model):
    """The tenant's link to Stripe: only the Stripe customer id and the payer's name and e-mail are kept."""

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, related_name="payment_account")
    stripe_customer_id = models.CharField("payment account ID", max_length=255, unique=True)
    name = models.CharField("payment account name", max_length=200)
    email = models.EmailField("payment account e-mail address")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.stripe_customer_id} ({self.tenant})"


class Credit(models.Model):
    """One grant of credit to a tenant (a redeemed credit code, a downgrade's proration, a goodwill credit).

    `amount_used` grows as invoices consume it; it never exceeds `amount_charged`, so the balance is never negative.
    `source_key` makes a grant idempotent: the same event can never grant twice.
    """

    class Source(models.TextChoices):
        CREDIT_CODE = "credit_code", "Credit code"
        PRORATION = "proration", "Proration (plan change)"
        MANUAL = "manual", "Manual (operator)"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="credits")
    name = models.CharField("credit", max_length=200)
    source = models.CharField(max_length=16, choices=Source.choices)
    source_key = models.CharField(max_length=200, unique=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount_charged = models.PositiveBigIntegerField("charged (minor units)")
    amount_used = models.PositiveBigIntegerField("used (minor units)", default=0)
    expires_at = models.DateTimeField("expiration date", null=True, blank=True)
    registered_at = models.DateTimeField("registration date")

    class Meta:
        ordering = ["tenant", "registered_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_used__lte=F("amount_charged")), name="credit_used_within_charged"),
        ]

    def __str__(self):
        return f"{self.name} ({self.tenant})"

    @property
    def amount_available(self) -> int:
        return self.amount_charged - self.amount_used


class PaymentMethodType(models.TextChoices):
    CARD = "card", "Credit card"
    BANK_TRANSFER = "bank_transfer", "Invoice payment (bank transfer)"


class PaymentSettings(models.Model):
    """How the tenant pays: by card (charged off-session) or by invoice payment (bank transfer, Japan only)."""

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, related_name="payment_settings")
    method = models.CharField("payment method", max_length=16, choices=PaymentMethodType.choices,
                              default=PaymentMethodType.CARD)
    billing_address = models.CharField("billing address", max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "payment settings"

    def __str__(self):
        return f"{self.get_method_display()} ({self.tenant})"


class PaymentMethod(models.Model):
    """A card registered with Stripe: only its summary is kept (never the card number)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="payment_methods")
    stripe_payment_method_id = models.CharField("Stripe payment method ID", max_length=255, unique=True)
    brand = models.CharField(max_length=32)
    last4 = models.CharField("last 4 digits", max_length=4)
    exp_month = models.PositiveSmallIntegerField("expiry month")
    exp_year = models.PositiveSmallIntegerField("expiry year")
    is_default = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "-is_default", "-created_at"]

    def __str__(self):
        return f"{self.brand} •••• {self.last4} ({self.tenant})"

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year}"


class Payment(models.Model):
    """One attempt to collect money through Stripe. The row is committed before Stripe is called."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCESSFUL = "successful", "Successful"
        FAILED = "failed", "Failed"
        REQUIRES_ACTION = "requires_action", "Requires action"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="payments")
    amount_minor = models.PositiveBigIntegerField("amount (minor units)")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    idempotency_key = models.CharField(max_length=200, unique=True)
    description = models.CharField(max_length=200, blank=True)
    stripe_payment_intent_id = models.CharField("Stripe PaymentIntent ID", max_length=255, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "-created_at"]

    def __str__(self):
        return f"{self.idempotency_key} ({self.get_status_display()})"


class StripeEvent(models.Model):
    """A webhook as received (raw body kept), stored once per Stripe event id."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (type not handled)"
        FAILED = "failed", "Failed"

    stripe_event_id = models.CharField("Stripe event ID", max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    stripe_created = models.BigIntegerField("created at Stripe (unix)", default=0)
    raw_body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.type} {self.stripe_event_id}"
