from django.conf import settings
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
    menus = models.ManyToManyField("Menu", related_name="plans", blank=True)

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
    billed_plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The plan whose fixed fee has been billed for the current period (empty on Free). A change "
                  "without proration keeps it, so a later downgrade credits only what was actually billed.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.tenant}: {self.plan}"


class PricingUnit(models.Model):
    """A priced line of a menu, like a SaaSus pricing unit: fixed fee, per-use, tiered or tiered usage."""

    class Type(models.TextChoices):
        FIXED = "fixed", "Fixed unit (fixed fee)"
        USAGE = "usage", "Usage unit (per unit used)"
        TIERED = "tiered", "Tiered unit (flat amount of the tier reached)"
        TIERED_USAGE = "tiered_usage", "Tiered usage unit (the tier reached sets the unit price)"

    unit_name = models.SlugField(
        max_length=100, unique=True, error_messages={"unique": "A pricing unit with this unit name already exists."}
    )
    display_name = models.CharField(max_length=200)
    description = models.CharField(max_length=300, blank=True)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.FIXED)
    metering_unit = models.ForeignKey(
        "metering.MeteringUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="pricing_units",
        help_text="What is counted for usage, tiered and tiered usage units.",
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    interval = models.CharField(max_length=8, choices=Plan.Interval.choices, default=Plan.Interval.MONTH)
    unit_amount = models.PositiveBigIntegerField(
        "unit price (minor units)", default=0, help_text="Fixed fee, or price per unit for usage units."
    )

    class Meta:
        ordering = ["currency", "unit_name"]

    def __str__(self):
        return f"{self.display_name} ({self.currency}, {self.get_interval_display()})"


class PricingTier(models.Model):
    """One tier of a tiered unit. `up_to` empty means infinity (the last tier)."""

    unit = models.ForeignKey(PricingUnit, on_delete=models.CASCADE, related_name="tiers")
    up_to = models.PositiveBigIntegerField(null=True, blank=True, help_text="Upper bound, inclusive. Empty = ∞.")
    unit_amount = models.PositiveBigIntegerField("unit price (minor units)", default=0)
    flat_amount = models.PositiveBigIntegerField("flat amount (minor units)", default=0)

    class Meta:
        ordering = [models.F("up_to").asc(nulls_last=True)]
        constraints = [
            models.UniqueConstraint(fields=["unit", "up_to"], name="uniq_tier_up_to"),
            models.UniqueConstraint(
                fields=["unit"], condition=models.Q(up_to__isnull=True), name="uniq_tier_infinite"
            ),
        ]

    def __str__(self):
        return f"up to {self.up_to if self.up_to is not None else '∞'}"


class Menu(models.Model):
    """A group of pricing units; plans are made of menus."""

    name = models.SlugField(max_length=100, unique=True, error_messages={"unique": "A menu with this name already exists."})
    display_name = models.CharField(max_length=200)
    units = models.ManyToManyField(PricingUnit, related_name="menus", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.display_name


class ProrationBehavior(models.TextChoices):
    ALWAYS_INVOICE = "always_invoice", "Invoice the difference now"
    CREATE_PRORATIONS = "create_prorations", "Add the difference to the next invoice"
    NONE = "none", "No proration (new price from the next period)"


class PlanChange(models.Model):
    """Plan history: every change of a tenant's license plan, with the proration it produced."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        UPGRADE = "upgrade", "Upgrade"
        DOWNGRADE = "downgrade", "Downgrade"
        CHANGE = "change", "Change"
        EXPIRY = "expiry", "Expiry (back to Free)"

    class Source(models.TextChoices):
        PORTAL = "portal", "Portal"
        API = "api", "Operator API"
        ADMIN = "admin", "Django admin"
        SYSTEM = "system", "System (period end)"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="plan_changes")
    from_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+", null=True, blank=True,
                                  help_text="Empty when a support plan is bought (there was none before).")
    to_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    effective_at = models.DateTimeField()
    proration_behavior = models.CharField(max_length=20, choices=ProrationBehavior.choices, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    unused_amount = models.BigIntegerField("unused time of the old plan (minor units)", default=0)
    remaining_amount = models.BigIntegerField("remaining time on the new plan (minor units)", default=0)
    difference_amount = models.BigIntegerField("difference (minor units)", default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        before = self.from_plan.name if self.from_plan else "—"
        return f"{self.tenant}: {before} → {self.to_plan.name} ({self.get_kind_display()})"


class ProrationItem(models.Model):
    """A proration line waiting to be invoiced: at once (`immediate`) or with the next monthly invoice."""

    class Billing(models.TextChoices):
        IMMEDIATE = "immediate", "Invoice now"
        NEXT_INVOICE = "next_invoice", "Next invoice"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        INVOICED = "invoiced", "Invoiced"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="proration_items")
    plan_change = models.ForeignKey(PlanChange, on_delete=models.CASCADE, related_name="proration_items")
    description = models.CharField(max_length=300)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    billing = models.CharField(max_length=16, choices=Billing.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.description


class PlanReservation(models.Model):
    """A plan change that takes effect at the start of the next period (a downgrade); cancellable until then."""

    class Status(models.TextChoices):
        PENDING = "pending", "Reserved"
        APPLIED = "applied", "Applied"
        CANCELLED = "cancelled", "Cancelled"

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="plan_reservations")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    effective_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=16, choices=PlanChange.Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(status="pending"), name="uniq_pending_reservation"
            )
        ]

    def __str__(self):
        from billing_portal.common.clock import local_text

        return f"{self.tenant}: {self.plan.name} from {local_text(self.effective_at, self.tenant.time_zone)}"


class SupportSubscription(models.Model):
    """The tenant's support plan (a second plan category beside the license, as on NEQTO): bought, changed
    (prorated like a license) and cancelled independently; calendar-month periods in the tenant's time zone.
    Its plan changes are in the same plan history (PlanChange, to a plan of category support)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, related_name="support_subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="support_subscriptions")
    billed_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField()
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()
    auto_renew = models.BooleanField(default=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.tenant}: {self.plan} ({self.get_status_display()})"
