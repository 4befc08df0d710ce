from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing_portal.common.money import CURRENCY_CHOICES


class LicenseType(models.TextChoices):
    FREE = "free", _("Free")
    STARTER = "starter", _("Starter")
    BUSINESS = "business", _("Business")
    ENTERPRISE = "enterprise", _("Enterprise")


class Plan(models.Model):
    """A plan in the catalogue. A license plan carries the license limits; a support plan is a second category."""

    class Category(models.TextChoices):
        LICENSE = "license", _("License")
        SUPPORT = "support", _("Support")

    class Interval(models.TextChoices):
        MONTH = "month", _("Monthly")
        YEAR = "year", _("Yearly")

    code = models.SlugField(
        _("code"), max_length=64, help_text=_("Stable identifier used by the API, e.g. 'starter'.")
    )
    name = models.CharField(_("name"), max_length=100)
    category = models.CharField(
        _("category"), max_length=16, choices=Category.choices, default=Category.LICENSE
    )
    license_type = models.CharField(_("license type"), max_length=16, choices=LicenseType.choices, blank=True)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    interval = models.CharField(_("interval"), max_length=8, choices=Interval.choices, default=Interval.MONTH)
    max_rps = models.PositiveIntegerField(
        _("maximum registered RPs"), null=True, blank=True, help_text=_("Empty = unlimited.")
    )
    max_users = models.PositiveIntegerField(
        _("maximum registered users"), null=True, blank=True, help_text=_("Empty = unlimited.")
    )
    max_mau = models.PositiveIntegerField(
        _("maximum MAU"), null=True, blank=True, help_text=_("Empty = unlimited.")
    )
    mau_overage_unit_amount = models.PositiveIntegerField(
        _("MAU overage unit price (minor units)"),
        default=0,
        help_text=_("Charged per MAU above the maximum."),
    )
    is_public = models.BooleanField(
        _("is public"), default=True, help_text=_("Offered on the plan-selection page.")
    )
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)
    menus = models.ManyToManyField("Menu", related_name="plans", blank=True, verbose_name=_("menus"))

    class Meta:
        ordering = ["category", "currency", "sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["code", "currency"], name="uniq_plan_code_currency")]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    def __str__(self):
        return f"{self.name} ({self.currency})"

    @property
    def is_free(self):
        return self.license_type == LicenseType.FREE


class License(models.Model):
    """The tenant's current license plan and period."""

    tenant = models.OneToOneField(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="license", verbose_name=_("tenant")
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="licenses", verbose_name=_("plan"))
    started_at = models.DateTimeField(_("started at"))
    current_period_start = models.DateTimeField(_("current period start"))
    current_period_end = models.DateTimeField(
        _("current period end"), null=True, blank=True, help_text=_("Empty for Free (no end date).")
    )
    auto_renew = models.BooleanField(_("auto renew"), default=True)
    billed_plan = models.ForeignKey(
        Plan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_(
            "The plan whose fixed fee has been billed for the current period (empty on Free). A change "
            "without proration keeps it, so a later downgrade credits only what was actually billed."
        ),
        verbose_name=_("billed plan"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("license")
        verbose_name_plural = _("licenses")

    def __str__(self):
        return f"{self.tenant}: {self.plan}"


class TaxCategory(models.TextChoices):
    """The consumption tax rate an invoice line is charged at (payments.invoicing.documents.tax_rate_of)."""

    STANDARD = "standard", _("Standard rate (10%)")
    REDUCED = "reduced", _("Reduced rate (8%)")


class PricingUnit(models.Model):
    """A priced line of a menu, like a SaaSus pricing unit: fixed fee, per-use, tiered or tiered usage."""

    class Type(models.TextChoices):
        FIXED = "fixed", _("Fixed unit (fixed fee)")
        USAGE = "usage", _("Usage unit (per unit used)")
        TIERED = "tiered", _("Tiered unit (flat amount of the tier reached)")
        TIERED_USAGE = "tiered_usage", _("Tiered usage unit (the tier reached sets the unit price)")

    unit_name = models.SlugField(
        _("unit name"),
        max_length=100,
        unique=True,
        error_messages={"unique": _("A pricing unit with this unit name already exists.")},
    )
    display_name = models.CharField(_("display name"), max_length=200)
    description = models.CharField(_("description"), max_length=300, blank=True)
    type = models.CharField(_("type"), max_length=16, choices=Type.choices, default=Type.FIXED)
    metering_unit = models.ForeignKey(
        "metering.MeteringUnit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pricing_units",
        help_text=_("What is counted for usage, tiered and tiered usage units."),
        verbose_name=_("metering unit"),
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    interval = models.CharField(
        _("interval"), max_length=8, choices=Plan.Interval.choices, default=Plan.Interval.MONTH
    )
    unit_amount = models.PositiveBigIntegerField(
        _("unit price (minor units)"), default=0, help_text=_("Fixed fee, or price per unit for usage units.")
    )
    tax_category = models.CharField(
        _("tax category"),
        max_length=8,
        choices=TaxCategory.choices,
        default=TaxCategory.STANDARD,
        help_text=_("Consumption tax rate of the unit's invoice lines: standard (10%) or reduced (8%)."),
    )

    class Meta:
        ordering = ["currency", "unit_name"]
        verbose_name = _("pricing unit")
        verbose_name_plural = _("pricing units")

    def __str__(self):
        return f"{self.display_name} ({self.currency}, {self.get_interval_display()})"


class PricingTier(models.Model):
    """One tier of a tiered unit. `up_to` empty means infinity (the last tier)."""

    unit = models.ForeignKey(
        PricingUnit, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("unit")
    )
    up_to = models.PositiveBigIntegerField(
        _("up to"), null=True, blank=True, help_text=_("Upper bound, inclusive. Empty = ∞.")
    )
    unit_amount = models.PositiveBigIntegerField(_("unit price (minor units)"), default=0)
    flat_amount = models.PositiveBigIntegerField(_("flat amount (minor units)"), default=0)

    class Meta:
        ordering = [models.F("up_to").asc(nulls_last=True)]
        constraints = [
            models.UniqueConstraint(fields=["unit", "up_to"], name="uniq_tier_up_to"),
            models.UniqueConstraint(
                fields=["unit"], condition=models.Q(up_to__isnull=True), name="uniq_tier_infinite"
            ),
        ]
        verbose_name = _("pricing tier")
        verbose_name_plural = _("pricing tiers")

    def __str__(self):
        return _("up to %(limit)s") % {"limit": self.up_to if self.up_to is not None else "∞"}


class Menu(models.Model):
    """A group of pricing units; plans are made of menus."""

    name = models.SlugField(
        _("name"),
        max_length=100,
        unique=True,
        error_messages={"unique": _("A menu with this name already exists.")},
    )
    display_name = models.CharField(_("display name"), max_length=200)
    units = models.ManyToManyField(PricingUnit, related_name="menus", blank=True, verbose_name=_("units"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("menu")
        verbose_name_plural = _("menus")

    def __str__(self):
        return self.display_name


class ProrationBehavior(models.TextChoices):
    ALWAYS_INVOICE = "always_invoice", _("Invoice the difference now")
    CREATE_PRORATIONS = "create_prorations", _("Add the difference to the next invoice")
    NONE = "none", _("No proration (new price from the next period)")


class PlanChange(models.Model):
    """Plan history: every change of a tenant's license plan, with the proration it produced."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        UPGRADE = "upgrade", _("Upgrade")
        DOWNGRADE = "downgrade", _("Downgrade")
        CHANGE = "change", _("Change")
        EXPIRY = "expiry", _("Expiry (back to Free)")

    class Source(models.TextChoices):
        PORTAL = "portal", _("Portal")
        API = "api", _("Operator API")
        ADMIN = "admin", _("Django admin")
        SYSTEM = "system", _("System (period end)")

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="plan_changes", verbose_name=_("tenant")
    )
    from_plan = models.ForeignKey(
        Plan,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("Empty when a support plan is bought (there was none before)."),
        verbose_name=_("from plan"),
    )
    to_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+", verbose_name=_("to plan"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    effective_at = models.DateTimeField(_("effective at"))
    proration_behavior = models.CharField(
        _("proration behavior"), max_length=20, choices=ProrationBehavior.choices, blank=True
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    unused_amount = models.BigIntegerField(_("unused time of the old plan (minor units)"), default=0)
    remaining_amount = models.BigIntegerField(_("remaining time on the new plan (minor units)"), default=0)
    difference_amount = models.BigIntegerField(_("difference (minor units)"), default=0)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("plan change")
        verbose_name_plural = _("plan changes")

    def __str__(self):
        before = self.from_plan.name if self.from_plan else "—"
        return f"{self.tenant}: {before} → {self.to_plan.name} ({self.get_kind_display()})"


class ProrationItem(models.Model):
    """A proration line waiting to be invoiced: at once (`immediate`) or with the next monthly invoice."""

    class Billing(models.TextChoices):
        IMMEDIATE = "immediate", _("Invoice now")
        NEXT_INVOICE = "next_invoice", _("Next invoice")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        INVOICED = "invoiced", _("Invoiced")

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="proration_items", verbose_name=_("tenant")
    )
    plan_change = models.ForeignKey(
        PlanChange, on_delete=models.CASCADE, related_name="proration_items", verbose_name=_("plan change")
    )
    description = models.CharField(_("description"), max_length=300)
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    billing = models.CharField(_("billing"), max_length=16, choices=Billing.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("proration item")
        verbose_name_plural = _("proration items")

    def __str__(self):
        return self.description


class PlanReservation(models.Model):
    """A plan change that takes effect at the start of the next period (a downgrade); cancellable until then."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Reserved")
        APPLIED = "applied", _("Applied")
        CANCELLED = "cancelled", _("Cancelled")

    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.CASCADE,
        related_name="plan_reservations",
        verbose_name=_("tenant"),
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+", verbose_name=_("plan"))
    effective_at = models.DateTimeField(_("effective at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(_("source"), max_length=16, choices=PlanChange.Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(status="pending"), name="uniq_pending_reservation"
            )
        ]
        verbose_name = _("plan reservation")
        verbose_name_plural = _("plan reservations")

    def __str__(self):
        from billing_portal.common.clock import local_text

        return _("%(tenant)s: %(plan)s from %(when)s") % {
            "tenant": self.tenant,
            "plan": self.plan.name,
            "when": local_text(self.effective_at, self.tenant.time_zone),
        }


class SupportSubscription(models.Model):
    """The tenant's support plan (a second plan category beside the license, as on NEQTO): bought, changed
    (prorated like a license) and cancelled independently; calendar-month periods in the tenant's time zone.
    Its plan changes are in the same plan history (PlanChange, to a plan of category support)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    tenant = models.OneToOneField(
        "accounts.Tenant",
        on_delete=models.CASCADE,
        related_name="support_subscription",
        verbose_name=_("tenant"),
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, related_name="support_subscriptions", verbose_name=_("plan")
    )
    billed_plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("billed plan")
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(_("started at"))
    current_period_start = models.DateTimeField(_("current period start"))
    current_period_end = models.DateTimeField(_("current period end"))
    auto_renew = models.BooleanField(_("auto renew"), default=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("support subscription")
        verbose_name_plural = _("support subscriptions")

    def __str__(self):
        return f"{self.tenant}: {self.plan} ({self.get_status_display()})"
