from django.db import models

from billing_portal.common.money import CURRENCY_CHOICES


class LicenseType(models.TextChoices):
    FREE = "free", "Free"
    STARTER = "starter", "Starter"
    BUSINESS = "business", "Business"
    ENTERPRISE = "enterprise", "Enterprise"


class Plan(models.Model):
    """A plan in the catalogue. A license plan carries the license limits; a support plan is a second category."""

    class Category(models.TextChoices):
        LICENSE = "license", "License"
        SUPPORT = "support", "Support"

    class Interval(models.TextChoices):
        MONTH = "month", "Monthly"
        YEAR = "year", "Yearly"

    code = models.SlugField(max_length=64, help_text="Stable identifier used by the API, e.g. 'starter'.")
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.LICENSE)
    license_type = models.CharField(max_length=16, choices=LicenseType.choices, blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    interval = models.CharField(max_length=8, choices=Interval.choices, default=Interval.MONTH)
    max_rps = models.PositiveIntegerField("maximum registered RPs", null=True, blank=True, help_text="Empty = unlimited.")
    max_users = models.PositiveIntegerField(
        "maximum registered users", null=True, blank=True, help_text="Empty = unlimited."
    )
    max_mau = models.PositiveIntegerField("maximum MAU", null=True, blank=True, help_text="Empty = unlimited.")
    mau_overage_unit_amount = models.PositiveIntegerField(
        "MAU overage unit price (minor units)", default=0, help_text="Charged per MAU above the maximum."
    )
    is_public = models.BooleanField(default=True, help_text="Offered on the plan-selection page.")
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["category", "currency", "sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["code", "currency"], name="uniq_plan_code_currency")]

    def __str__(self):
        return f"{self.name} ({self.currency})"

    @property
    def is_free(self):
        return self.license_type == LicenseType.FREE


class License(models.Model):
    """The tenant's current license plan and period."""

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, related_name="license")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="licenses")
    started_at = models.DateTimeField()
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField(null=True, blank=True, help_text="Empty for Free (no end date).")
    auto_renew = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.tenant}: {self.plan}"
