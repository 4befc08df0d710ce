from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from billing_portal.common.money import CURRENCY_CHOICES


class PaymentAccount(models.Model):
    """The tenant's link to Stripe: only the Stripe customer id and the payer's name and e-mail are kept."""

    tenant = models.OneToOneField(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="payment_account", verbose_name=_("tenant")
    )
    stripe_customer_id = models.CharField(_("payment account ID"), max_length=255, unique=True)
    name = models.CharField(_("payment account name"), max_length=200)
    email = models.EmailField(_("payment account e-mail address"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payment account")
        verbose_name_plural = _("payment accounts")

    def __str__(self):
        return f"{self.stripe_customer_id} ({self.tenant})"


class Credit(models.Model):
    """One grant of credit to a tenant (a redeemed credit code, a downgrade's proration, a goodwill credit).

    `amount_used` grows as invoices consume it; it never exceeds `amount_charged`, so the balance is never negative.
    `source_key` makes a grant idempotent: the same event can never grant twice.
    """

    class Source(models.TextChoices):
        CREDIT_CODE = "credit_code", _("Credit code")
        PRORATION = "proration", _("Proration (plan change)")
        MANUAL = "manual", _("Manual (operator)")
        BANK_TRANSFER = "bank_transfer", _("Bank transfer overpayment")

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="credits", verbose_name=_("tenant")
    )
    name = models.CharField(_("credit"), max_length=200)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    source_key = models.CharField(_("source key"), max_length=200, unique=True)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    amount_charged = models.PositiveBigIntegerField(_("charged (minor units)"))
    amount_used = models.PositiveBigIntegerField(_("used (minor units)"), default=0)
    expires_at = models.DateTimeField(_("expiration date"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registration date"))

    class Meta:
        ordering = ["tenant", "registered_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_used__lte=F("amount_charged")), name="credit_used_within_charged"
            ),
        ]
        verbose_name = _("credit")
        verbose_name_plural = _("credits")

    def __str__(self):
        return f"{self.name} ({self.tenant})"

    @property
    def amount_available(self) -> int:
        return self.amount_charged - self.amount_used


class PaymentMethodType(models.TextChoices):
    CARD = "card", _("Credit card")
    BANK_TRANSFER = "bank_transfer", _("Invoice payment (bank transfer)")


class PaymentSettings(models.Model):
    """How the tenant pays: by card (charged off-session) or by invoice payment (bank transfer, Japan only)."""

    tenant = models.OneToOneField(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="payment_settings", verbose_name=_("tenant")
    )
    method = models.CharField(
        _("payment method"), max_length=16, choices=PaymentMethodType.choices, default=PaymentMethodType.CARD
    )
    billing_address = models.CharField(_("billing address"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name_plural = _("payment settings")
        verbose_name = _("payment settings")

    def __str__(self):
        return f"{self.get_method_display()} ({self.tenant})"


class PaymentMethod(models.Model):
    """A card registered with Stripe: only its summary is kept (never the card number)."""

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="payment_methods", verbose_name=_("tenant")
    )
    stripe_payment_method_id = models.CharField(_("Stripe payment method ID"), max_length=255, unique=True)
    brand = models.CharField(_("brand"), max_length=32)
    last4 = models.CharField(_("last 4 digits"), max_length=4)
    exp_month = models.PositiveSmallIntegerField(_("expiry month"))
    exp_year = models.PositiveSmallIntegerField(_("expiry year"))
    is_default = models.BooleanField(_("is default"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["tenant", "-is_default", "-created_at"]
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")

    def __str__(self):
        return f"{self.brand} •••• {self.last4} ({self.tenant})"

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year}"


class Payment(models.Model):
    """One attempt to collect money through Stripe. The row is committed before Stripe is called, and Stripe is
    called only while the row is locked (`payments.charging.attempts.payment_send`), so a killed process leaves it
    pending for the sweeper, never half-known.

    An invoice has at most one *live* attempt (pending, requires action or successful), enforced by the
    database: a second charge of the same invoice cannot even be recorded."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCESSFUL = "successful", _("Successful")
        FAILED = "failed", _("Failed")
        REQUIRES_ACTION = "requires_action", _("Requires action")

    LIVE_STATUSES = (Status.PENDING, Status.REQUIRES_ACTION, Status.SUCCESSFUL)

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="payments", verbose_name=_("tenant")
    )
    invoice = models.ForeignKey(
        "payments.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("invoice"),
    )
    amount_minor = models.PositiveBigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    stripe_payment_intent_id = models.CharField(
        _("Stripe PaymentIntent ID"), max_length=255, blank=True, db_index=True
    )
    stripe_payment_method_id = models.CharField(
        _("Stripe payment method ID"),
        max_length=255,
        blank=True,
        help_text=_(
            "The card this attempt charges: a resumed attempt sends exactly what the first call sent."
        ),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_message = models.TextField(_("failure message"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["tenant", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status__in=["pending", "requires_action", "successful"]),
                name="uniq_live_payment_per_invoice",
            ),
        ]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self):
        return f"{self.idempotency_key} ({self.get_status_display()})"


class StripeEvent(models.Model):
    """A webhook as received (raw body kept), stored once per Stripe event id."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored (type not handled)")
        FLAGGED = "flagged", _("Flagged for ops (does not match our records)")
        FAILED = "failed", _("Failed")

    stripe_event_id = models.CharField(_("Stripe event ID"), max_length=255, unique=True)
    type = models.CharField(_("type"), max_length=100, db_index=True)
    stripe_created = models.BigIntegerField(_("created at Stripe (unix)"), default=0)
    raw_body = models.TextField(_("raw body"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    traceback = models.TextField(_("traceback"), blank=True)
    flag_reason = models.TextField(
        _("flag reason"), blank=True, help_text=_("Why the event was not applied (flagged events).")
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    received_at = models.DateTimeField(_("received at"))
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")

    def __str__(self):
        return f"{self.type} {self.stripe_event_id}"


class CreditCode(models.Model):
    """A credit code issued by ops. A tenant redeems it once; `redemption_limit` caps how many tenants may."""

    name = models.CharField(
        _("name"), max_length=200, help_text=_("Shown to the customer as the credit's name.")
    )
    code = models.CharField(_("code"), max_length=32, unique=True, editable=False)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    amount = models.PositiveBigIntegerField(_("amount (minor units)"))
    expires_at = models.DateTimeField(_("expiration date"))
    redemption_limit = models.PositiveIntegerField(_("redemption limit"), default=1)
    redeemed_count = models.PositiveIntegerField(_("redeemed count"), default=0, editable=False)
    created_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(redeemed_count__lte=F("redemption_limit")), name="credit_code_within_limit"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_code_positive"),
        ]
        verbose_name = _("credit code")
        verbose_name_plural = _("credit codes")

    def __str__(self):
        return f"{self.name} ({self.code[:4]}…)"


class CreditRedemption(models.Model):
    """A tenant's redemption of a credit code (one per tenant and code, enforced by the database)."""

    credit_code = models.ForeignKey(CreditCode, on_delete=models.PROTECT, related_name="redemptions")
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="credit_redemptions")
    credit = models.OneToOneField(Credit, on_delete=models.PROTECT, related_name="redemption")
    redeemed_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    redeemed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["credit_code", "tenant"], name="uniq_redemption_per_tenant")
        ]

    def __str__(self):
        return f"{self.credit_code} → {self.tenant}"


class Invoice(models.Model):
    """An issued invoice. Seller and buyer details and every line are copied in; issued invoices are never edited
    (corrections are credit notes). Amounts are minor units of `currency`."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("invoice status", "Pending")
        SUCCESSFUL = "successful", pgettext_lazy("invoice status", "Paid")
        FAILED = "failed", pgettext_lazy("invoice status", "Failed")
        VOID = (
            "void",
            pgettext_lazy("invoice status", "Void"),
        )  # an unpaid invoice replaced by its corrected reissue (payments.corrections)

    class Kind(models.TextChoices):
        MONTHLY = "monthly", _("Monthly invoice")
        PRORATION = "proration", _("Plan change (immediate)")
        CREDIT_NOTE = "credit_note", _("Credit note")

    class PaymentMethod(models.TextChoices):
        CARD = "card", _("Card")
        BANK_TRANSFER = "bank_transfer", _("Invoice (bank transfer)")

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.PROTECT, related_name="invoices", verbose_name=_("tenant")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.MONTHLY)
    number = models.CharField(_("number"), max_length=32)
    receipt_id = models.CharField(_("receipt ID"), max_length=32, unique=True)
    source_key = models.CharField(
        _("source key"),
        max_length=200,
        unique=True,
        help_text=_("What this invoice is for (e.g. monthly-acme-2026-04); issues once."),
    )
    period_start = models.DateTimeField(_("period start"), null=True, blank=True)
    period_end = models.DateTimeField(_("period end"), null=True, blank=True)
    billing_date = models.DateField(_("billing date"))
    issued_at = models.DateTimeField(_("issued at"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    usage_amount = models.BigIntegerField(_("usage amount"))
    credit_applied = models.BigIntegerField(_("credit"), default=0)
    determined_amount = models.BigIntegerField(_("determined amount"))
    tax_rate = models.DecimalField(_("tax rate"), max_digits=6, decimal_places=4)
    tax_amount = models.BigIntegerField(_("tax"))
    tax_breakdown = models.JSONField(
        _("tax per rate"),
        default=list,
        blank=True,
        help_text=_("Per tax rate: lines, credit applied, taxable amount and tax (rounded once per rate)."),
    )
    payment_amount = models.BigIntegerField(_("payment amount"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    payment_method = models.CharField(
        _("payment method"), max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.CARD
    )
    paid_at = models.DateTimeField(_("payment date"), null=True, blank=True)
    due_date = models.DateField(
        _("due date"),
        null=True,
        blank=True,
        help_text=_("Bank-transfer invoices: the last day to pay, in the tenant's calendar."),
    )
    seller_name = models.CharField(_("seller name"), max_length=200)
    seller_address = models.CharField(_("seller address"), max_length=300)
    buyer_name = models.CharField(_("buyer name"), max_length=200)
    buyer_address = models.CharField(_("buyer address"), max_length=300, blank=True)
    buyer_email = models.EmailField(_("buyer e-mail address"), blank=True)
    attempt_count = models.PositiveSmallIntegerField(_("charge attempts"), default=0)
    next_attempt_at = models.DateTimeField(
        _("next charge attempt"),
        null=True,
        blank=True,
        help_text=_("When the card is charged next (cards only)."),
    )
    refunded_amount = models.BigIntegerField(
        _("refunded (minor units)"),
        default=0,
        help_text=_("Money returned to the card (tax included), by refunds."),
    )
    credited_invoice = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
        verbose_name=_("credited invoice"),
        help_text=_("For a credit note (return invoice): the invoice it corrects."),
    )
    replaced_by = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaces",
        help_text=_("A void invoice's corrected replacement (reissue)."),
        verbose_name=_("replaced by"),
    )
    disputed = models.BooleanField(
        _("disputed"), default=False, help_text=_("The customer's bank has opened a dispute (chargeback).")
    )

    class Meta:
        ordering = ["-billing_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="uniq_invoice_number_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant", "period_start"],
                condition=Q(kind="monthly") & ~Q(status="void"),
                name="uniq_invoice_period",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0)
                & (Q(refunded_amount=0) | Q(refunded_amount__lte=F("payment_amount"))),
                name="invoice_refund_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(determined_amount=F("usage_amount") - F("credit_applied")),
                name="invoice_determined",
            ),
            models.CheckConstraint(
                condition=Q(payment_amount=F("determined_amount") + F("tax_amount")),
                name="invoice_payment_total",
            ),
        ]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")

    def __str__(self):
        return f"{self.number} ({self.tenant})"

    @property
    def display_status(self) -> str:
        """What the payment history says: refunds show over the paid status; a credit note says what it is."""
        if self.kind == self.Kind.CREDIT_NOTE:
            return _("Credit note")
        if self.refunded_amount and self.refunded_amount >= self.payment_amount:
            return _("Refunded")
        if self.refunded_amount:
            return _("Partially refunded")
        return self.get_status_display()


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("invoice")
    )
    position = models.PositiveIntegerField(_("position"))
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=20, decimal_places=4, default=1)
    unit_amount = models.BigIntegerField(_("unit price (minor units)"), null=True, blank=True)
    amount = models.BigIntegerField(_("amount (minor units)"))
    tax_rate = models.DecimalField(
        _("tax rate"),
        max_digits=6,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Empty on lines issued before rates per line: the invoice's tax rate."),
    )

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="uniq_invoice_line_position")
        ]
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")

    def __str__(self):
        from payments.templatetags.invoice_text import invoice_text

        return str(invoice_text(self.description))  # admin's inline rows: in the operator's language


class CreditApplication(models.Model):
    """How much of which credit an invoice consumed."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_applications")
    credit = models.ForeignKey(Credit, on_delete=models.PROTECT, related_name="applications")
    amount = models.PositiveBigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invoice", "credit"], name="uniq_credit_per_invoice")]

    def __str__(self):
        return _("%(credit)s on %(invoice)s") % {"credit": self.credit, "invoice": self.invoice}


class InvoiceNumberSequence(models.Model):
    """Gap-free invoice numbers per tenant and year: the row is locked while a number is taken."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    year = models.PositiveIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "year"], name="uniq_invoice_sequence")]

    def __str__(self):
        return f"{self.tenant} {self.year}: {self.last_number}"


class Refund(models.Model):
    """Money returned to the card for a paid invoice (ops, in admin; or made in the Stripe dashboard and learnt
    from the `charge.refunded` webhook). Recorded with a credit note for its pre-tax part. The row is committed
    before Stripe is called, under the invoice's row lock, so the sum of refunds can never exceed what was paid."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.PROTECT, related_name="refunds", verbose_name=_("tenant")
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("invoice")
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment")
    )
    amount_minor = models.PositiveBigIntegerField(_("amount (minor units, tax included)"))
    tax_minor = models.PositiveBigIntegerField(_("of which tax (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    reason = models.CharField(_("reason"), max_length=300)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    stripe_refund_id = models.CharField(
        _("Stripe refund ID"), max_length=255, unique=True, null=True, blank=True
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_message = models.TextField(_("failure message"), blank=True)
    credit_note = models.OneToOneField(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("credit note"),
    )
    created_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0) & Q(tax_minor__lte=F("amount_minor")), name="refund_positive"
            ),
        ]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")

    def __str__(self):
        return f"{self.idempotency_key} ({self.get_status_display()})"


class Dispute(models.Model):
    """A dispute (chargeback) the customer's bank opened on a charge, as Stripe reports it."""

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.PROTECT, related_name="disputes", verbose_name=_("tenant")
    )
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disputes",
        verbose_name=_("invoice"),
    )
    stripe_dispute_id = models.CharField(_("Stripe dispute ID"), max_length=255, unique=True)
    stripe_payment_intent_id = models.CharField(_("Stripe PaymentIntent ID"), max_length=255, blank=True)
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    reason = models.CharField(_("reason"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=40, help_text=_("Stripe's dispute status (needs_response, won, lost, …).")
    )
    opened_at = models.DateTimeField(_("opened at"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")

    def __str__(self):
        return f"{self.stripe_dispute_id} ({self.status})"


class Coupon(models.Model):
    """A discount ops create: percent or fixed amount off (fixed amounts are bound to a currency), on license
    fees, usage or everything, once / for N months / forever. Attached to a tenant by ops (sales-led) or redeemed
    by a tenant owner with its promotion code (self-serve)."""

    class Kind(models.TextChoices):
        PERCENT = "percent", _("Percent off")
        AMOUNT = "amount", _("Fixed amount off")

    class AppliesTo(models.TextChoices):
        LICENSE = "license", _("License fees")
        USAGE = "usage", _("Usage (metered units, MAU overage)")
        ALL = "all", _("Everything")

    class Duration(models.TextChoices):
        ONCE = "once", _("Once (the next invoice)")
        REPEATING = "repeating", _("For a number of months")
        FOREVER = "forever", _("Forever")

    name = models.CharField(
        _("name"), max_length=200, help_text=_("Shown on invoices as the discount's name.")
    )
    promotion_code = models.CharField(
        _("promotion code"),
        max_length=32,
        unique=True,
        null=True,
        blank=True,
        help_text=_(
            "Leave empty for a coupon only ops attach. Tenants enter it on the plan or billing page."
        ),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.PERCENT)
    percent_off = models.DecimalField(_("percent off"), max_digits=5, decimal_places=2, null=True, blank=True)
    amount_off = models.PositiveBigIntegerField(_("amount off (minor units)"), null=True, blank=True)
    currency = models.CharField(
        _("currency"),
        max_length=3,
        choices=CURRENCY_CHOICES,
        blank=True,
        help_text=_("Required for a fixed amount; a percent coupon works in any currency."),
    )
    applies_to = models.CharField(
        _("applies to"), max_length=8, choices=AppliesTo.choices, default=AppliesTo.ALL
    )
    duration = models.CharField(_("duration"), max_length=10, choices=Duration.choices, default=Duration.ONCE)
    duration_months = models.PositiveSmallIntegerField(_("duration months"), null=True, blank=True)
    plans = models.ManyToManyField(
        "licenses.Plan",
        blank=True,
        related_name="+",
        help_text=_("Only for these plans (empty: every plan)."),
        verbose_name=_("plans"),
    )
    redeem_by = models.DateTimeField(
        _("redeem by"), null=True, blank=True, help_text=_("No new redemptions after this.")
    )
    redemption_limit = models.PositiveIntegerField(_("redemption limit"), null=True, blank=True)
    redeemed_count = models.PositiveIntegerField(_("redeemed count"), default=0, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="percent", percent_off__gt=0, percent_off__lte=100, amount_off__isnull=True)
                    | (Q(kind="amount", amount_off__gt=0, percent_off__isnull=True) & ~Q(currency=""))
                ),
                name="coupon_kind_fields",
            ),
            models.CheckConstraint(
                condition=Q(duration="repeating", duration_months__gte=1)
                | (~Q(duration="repeating") & Q(duration_months__isnull=True)),
                name="coupon_duration_months",
            ),
            models.CheckConstraint(
                condition=Q(redemption_limit__isnull=True) | Q(redeemed_count__lte=F("redemption_limit")),
                name="coupon_within_limit",
            ),
        ]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")

    def __str__(self):
        return self.name

    @property
    def summary(self) -> str:
        from django.utils.translation import gettext, ngettext

        from billing_portal.common.money import format_money

        off = (
            gettext("%(percent)s%% off") % {"percent": f"{self.percent_off.normalize():f}"}
            if (self.kind == self.Kind.PERCENT)
            else gettext("%(amount)s off") % {"amount": format_money(self.amount_off, self.currency)}
        )
        what = {"license": gettext("license fees"), "usage": gettext("usage"), "all": gettext("everything")}
        when = {"once": gettext("on the next invoice"), "forever": gettext("on every invoice")}
        if self.duration == self.Duration.REPEATING:
            months = self.duration_months or 0
            when["repeating"] = ngettext("for %(months)s month", "for %(months)s months", months) % {
                "months": months
            }
        # "10% off license fees on the next invoice"; each language orders the three parts its own way.
        return gettext("%(off)s %(what)s %(when)s") % {
            "off": off,
            "what": what[self.applies_to],
            "when": when[self.duration],
        }


class Discount(models.Model):
    """A coupon attached to a tenant: it applies to the tenant's invoices from `starts_on` (the first billing
    month), for the coupon's duration. One per tenant and coupon (the database says so)."""

    class Source(models.TextChoices):
        ADMIN = "admin", _("Attached by ops")
        PROMOTION_CODE = "promotion_code", _("Promotion code")

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="discounts", verbose_name=_("tenant")
    )
    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, related_name="discounts", verbose_name=_("coupon")
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    starts_on = models.DateField(_("starts on"), help_text=_("The first billing date it applies to."))
    ends_before = models.DateField(
        _("ends before"), null=True, blank=True, help_text=_("Billing dates before this (repeating).")
    )
    used_once = models.BooleanField(_("used once"), default=False)
    created_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["tenant", "created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "coupon"], name="uniq_discount_per_tenant")]
        verbose_name = _("discount")
        verbose_name_plural = _("discounts")

    def __str__(self):
        return f"{self.coupon} → {self.tenant}"

    @property
    def applies_through(self):
        """The last billing month it applies to (a day in it), for people: `ends_before` is exclusive."""
        from datetime import timedelta

        return self.ends_before - timedelta(days=1) if self.ends_before else None


class DiscountApplication(models.Model):
    """The discount line an invoice got (idempotent per invoice and discount)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="discount_applications")
    discount = models.ForeignKey(Discount, on_delete=models.PROTECT, related_name="applications")
    amount = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "discount"], name="uniq_discount_per_invoice")
        ]

    def __str__(self):
        return _("%(discount)s on %(invoice)s") % {"discount": self.discount, "invoice": self.invoice}


class BankTransferProfile(models.Model):
    """A tenant's bank-transfer details: its transfer reference (7 digits, the last a Damm check digit; unique, and
    never reused: rows are never deleted) and the payer name its bank prints on transfers (振込名義, half-width
    katakana as `billing_portal.common.kana.to_bank_kana` makes it)."""

    tenant = models.OneToOneField(
        "accounts.Tenant",
        on_delete=models.PROTECT,
        related_name="bank_transfer_profile",
        verbose_name=_("tenant"),
    )
    reference = models.CharField(_("transfer reference"), max_length=7, unique=True)
    payer_name = models.CharField(_("Payer name (as printed by the bank)"), max_length=48, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("bank transfer profile")
        verbose_name_plural = _("bank transfer profiles")
        constraints = [
            models.CheckConstraint(
                condition=Q(reference__regex=r"^[0-9]{7}$"), name="transfer_reference_digits"
            )
        ]

    def __str__(self):
        return f"{self.reference} ({self.tenant})"


class BankStatement(models.Model):
    """An uploaded bank statement (CSV). The same file twice is one statement (its SHA-256 is unique)."""

    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, unique=True)
    filename = models.CharField(_("file name"), max_length=200)
    encoding = models.CharField(_("encoding"), max_length=16)
    has_header = models.BooleanField(_("has a header row"), default=False)
    row_errors = models.JSONField(
        _("unreadable rows"),
        default=list,
        blank=True,
        help_text=_("[[row, reason], …]: rows that could not be read."),
    )
    duplicate_rows = models.PositiveIntegerField(
        _("rows already imported"), default=0, help_text=_("Rows already imported from an earlier statement.")
    )
    uploaded_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"))

    class Meta:
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")
        ordering = ["-uploaded_at"]

    def __str__(self):
        return f"{self.filename} ({self.uploaded_at:%Y-%m-%d %H:%M})"


class BankStatementLine(models.Model):
    """One deposit of a statement. `line_key` (date, amount, payer name, reference and the n-th such row of the
    file) is unique, so a deposit is imported once however many overlapping statements repeat it."""

    class Status(models.TextChoices):
        UNAPPLIED = "unapplied", pgettext_lazy("deposit status", "Not applied")
        APPLIED = "applied", pgettext_lazy("deposit status", "Applied")
        IGNORED = "ignored", pgettext_lazy("deposit status", "Ignored (not a customer payment)")

    statement = models.ForeignKey(
        BankStatement, on_delete=models.PROTECT, related_name="lines", verbose_name=_("bank statement")
    )
    row = models.PositiveIntegerField(_("row"), help_text=_("Row number in the file."))
    line_key = models.CharField(_("line key"), max_length=64, unique=True)
    booked_on = models.DateField(_("date"))
    amount = models.PositiveBigIntegerField(_("amount (yen)"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="JPY")
    payer_name = models.CharField(_("payer name (振込依頼人名)"), max_length=200)
    payer_name_raw = models.CharField(_("payer name as in the file"), max_length=200)
    reference = models.CharField(_("reference"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UNAPPLIED)
    note = models.CharField(_("note"), max_length=300, blank=True)
    resolved_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bank statement line")
        verbose_name_plural = _("bank statement lines")
        ordering = ["booked_on", "statement", "row"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="statement_line_positive")]

    def __str__(self):
        return f"{self.booked_on} ¥{self.amount:,} {self.payer_name}"


class TransferPayment(models.Model):
    """A statement line applied to an invoice (all of it, part of it, or more than it: the rest may become tenant
    credit) or wholly to tenant credit. One per line, enforced by the database: a deposit is applied once."""

    line = models.OneToOneField(
        BankStatementLine, on_delete=models.PROTECT, related_name="application", verbose_name=_("deposit")
    )
    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.PROTECT,
        related_name="transfer_payments",
        verbose_name=_("tenant"),
    )
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfer_payments",
        verbose_name=_("invoice"),
    )
    amount = models.PositiveBigIntegerField(_("applied to the invoice (yen)"))
    credit = models.OneToOneField(
        Credit, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("credit")
    )
    applied_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("applied by"),
    )
    applied_at = models.DateTimeField(_("applied at"))

    class Meta:
        verbose_name = _("transfer payment")
        verbose_name_plural = _("transfer payments")
        ordering = ["-applied_at"]

    def __str__(self):
        return f"{self.line} → {self.invoice or 'credit'}"


class TransferReminder(models.Model):
    """A reminder e-mail about an unpaid bank-transfer invoice: once per invoice and step (the database says so)."""

    class Step(models.TextChoices):
        BEFORE_DUE = "before_due", _("3 days before the due date")
        DUE = "due", _("On the due date")
        OVERDUE_7 = "overdue_7", _("7 days overdue")
        OVERDUE_14 = "overdue_14", _("14 days overdue")

    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="transfer_reminders", verbose_name=_("invoice")
    )
    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.PROTECT, related_name="+", verbose_name=_("tenant")
    )
    step = models.CharField(_("step"), max_length=16, choices=Step.choices)
    sent_at = models.DateTimeField(_("sent at"))

    class Meta:
        verbose_name = _("transfer reminder")
        verbose_name_plural = _("transfer reminders")
        ordering = ["invoice", "sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "step"], name="uniq_transfer_reminder_step")
        ]

    def __str__(self):
        return f"{self.invoice} {self.get_step_display()}"


class ArchiveImmutable(Exception):
    """An archived document was about to be changed or deleted (電子帳簿保存法: issued documents are kept as
    issued; corrections are new documents)."""


class ArchivedDocument(models.Model):
    """An issued document's PDF exactly as it was issued (電子帳簿保存法, docs/archive.md), with its SHA-256 and the
    search fields (counterparty, number, issue date, amount) copied in, so that the row stands alone even after the
    tenant unsubscribed and its name was anonymised. Written once by payments.invoicing.archive; never updated or
    deleted (save refuses it here, a database trigger refuses it for every other path)."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        RECEIPT = "receipt", _("Receipt")
        CREDIT_NOTE = "credit_note", _("Credit note")

    kind = models.CharField(_("document type"), max_length=16, choices=Kind.choices)
    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.PROTECT,
        related_name="archived_documents",
        verbose_name=_("tenant"),
    )
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        related_name="archived_documents",
        verbose_name=_("invoice"),
        help_text=_("The invoice or credit note the document was issued for."),
    )
    number = models.CharField(_("document number"), max_length=32)
    issue_date = models.DateField(
        _("issue date"), help_text=_("The date the document was issued, in the tenant's calendar.")
    )
    counterparty_name = models.CharField(_("counterparty"), max_length=200)
    amount = models.BigIntegerField(
        _("amount (minor units)"), help_text=_("Tax included; negative for a credit note.")
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    language = models.CharField(_("language"), max_length=8)
    pdf = models.BinaryField(_("PDF"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("archived at"), auto_now_add=True)

    class Meta:
        verbose_name = _("archived document")
        verbose_name_plural = _("archived documents")
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "invoice"], name="uniq_archived_document_per_invoice"),
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="archived_sha256_hex"),
        ]
        indexes = [
            models.Index(fields=["issue_date"], name="archived_issue_date"),
            models.Index(fields=["amount"], name="archived_amount"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ArchiveImmutable(f"Archived document {self.pk} is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ArchiveImmutable(f"Archived document {self.pk} is never deleted.")
