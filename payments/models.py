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
