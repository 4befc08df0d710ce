from django.db import models
from django.utils.translation import gettext_lazy as _


class MeteringUnit(models.Model):
    """A thing that is metered (API calls, disk bytes, …), counted per day/month by sum or max."""

    class Aggregation(models.TextChoices):
        SUM = "sum", _("Sum (total)")
        MAX = "max", _("Max (maximum)")

    unit_name = models.SlugField(
        _("unit name"),
        max_length=100,
        unique=True,
        error_messages={"unique": _("A metering unit with this unit name already exists.")},
    )
    display_name = models.CharField(_("display name"), max_length=200)
    aggregation = models.CharField(
        _("aggregation"), max_length=8, choices=Aggregation.choices, default=Aggregation.SUM
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["unit_name"]
        verbose_name = _("metering unit")
        verbose_name_plural = _("metering units")

    def __str__(self):
        return self.display_name or self.unit_name


class AuthEvent(models.Model):
    """One authentication event as received by the ingest API (the raw events, kept for the retention window).

    The table is partitioned by month of `occurred_at` (UTC; metering/partitions.py, migration
    0008_authevent_partitioned): PostgreSQL requires the partition key in every unique constraint, so the
    primary key is (id, occurred_at) in the database and idempotency by (tenant, event_id) is AuthEventKey's.
    `month` is the first day of the calendar month of `occurred_at` in the tenant's time zone.
    """

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    # Byte-order ("C") collation on the ingest keys: every event does several B-tree look-ups on them
    # (idempotency, first-seen per month, per RP and per day), and memcmp is much cheaper than the database's
    # locale comparison. Ids are compared for equality only; nothing shows them sorted by locale.
    event_id = models.CharField(max_length=200, db_collation="C")
    rp_id = models.CharField("RP ID", max_length=255, db_collation="C")
    user_id = models.CharField("user ID", max_length=255, db_collation="C")
    occurred_at = models.DateTimeField()
    month = models.DateField()

    def __str__(self):
        return self.event_id


class AuthEventKey(models.Model):
    """An accepted event id: one row per (tenant, event_id), the ingest's idempotency (ON CONFLICT DO NOTHING).
    Written by the ingest statement with the event; deleted with the month's events partition when retention
    drops it (`occurred_at` says which), so idempotency by event id holds within the retention window."""

    pk = models.CompositePrimaryKey("tenant", "event_id")
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    event_id = models.CharField(max_length=200, db_collation="C")
    occurred_at = models.DateTimeField()

    def __str__(self):
        return self.event_id


class MauFirstSeen(models.Model):
    """A user's first authentication in a tenant-month: one row per (tenant, month, user) — the MAU evidence,
    kept when the raw events' partitions are dropped. `first_at` and `rp_id` are the earliest event of the user in
    the month (ties: the smallest RP id); null for rows from before they were recorded whose events were gone."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField()
    user_id = models.CharField(max_length=255, db_collation="C")
    first_at = models.DateTimeField(null=True)
    rp_id = models.CharField(max_length=255, db_collation="C", default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month", "user_id"], name="uniq_mau_first_seen")
        ]

    def __str__(self):
        return f"{self.user_id} in {self.month:%Y-%m}"


class MauRpFirstSeen(models.Model):
    """A user's first authentication at one RP in a tenant-month: one row per (tenant, rp, month, user)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    rp_id = models.CharField(max_length=255, db_collation="C")
    month = models.DateField()
    user_id = models.CharField(max_length=255, db_collation="C")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "rp_id", "month", "user_id"], name="uniq_mau_rp_first_seen"
            )
        ]

    def __str__(self):
        return f"{self.user_id} at {self.rp_id} in {self.month:%Y-%m}"


class MauCounter(models.Model):
    """Maintained MAU per tenant-month: rp_id "" is the whole tenant, otherwise one RP.

    `mau` is bumped by the number of new first-seen rows in the same transaction; `events` by new events.
    """

    TENANT_TOTAL = ""

    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("tenant"),
    )
    month = models.DateField(_("month"))
    rp_id = models.CharField(_("RP ID"), max_length=255, blank=True)
    mau = models.BigIntegerField(_("MAU"), default=0)
    events = models.BigIntegerField(_("events"), default=0)

    class Meta:
        ordering = ["month", "rp_id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "month", "rp_id"], name="uniq_mau_counter")]
        verbose_name = _("MAU counter")
        verbose_name_plural = _("MAU counters")

    def __str__(self):
        return _("MAU %(mau)s in %(month)s %(rp)s") % {
            "mau": self.mau,
            "month": f"{self.month:%Y-%m}",
            "rp": self.rp_id or _("(all RPs)"),
        }


class DailyActiveFirstSeen(models.Model):
    """A user's first authentication on a calendar day (tenant's time zone): one row per (tenant, day, user)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    user_id = models.CharField(max_length=255, db_collation="C")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "day", "user_id"], name="uniq_daily_active")]

    def __str__(self):
        return f"{self.user_id} on {self.day}"


class DailyActiveCounter(models.Model):
    """Exact daily active users of a tenant (for graphs), bumped by the number of new daily first-seen rows."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    dau = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="uniq_daily_active_counter")]

    def __str__(self):
        return f"DAU {self.dau} on {self.day}"


class MeterReading(models.Model):
    """A metering unit's count at one timestamp (SaaSus style: add, sub or direct at a timestamp).

    `rp_id` names the channel the usage belongs to ("" when not per channel).
    """

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="meter_readings", verbose_name=_("tenant")
    )
    unit = models.ForeignKey(
        MeteringUnit, on_delete=models.PROTECT, related_name="readings", verbose_name=_("unit")
    )
    rp_id = models.CharField(_("RP ID"), max_length=255, blank=True, default="")
    timestamp = models.DateTimeField(_("timestamp"))
    count = models.BigIntegerField(_("count"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["timestamp"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "unit", "rp_id", "timestamp"], name="uniq_meter_reading"
            ),
            models.CheckConstraint(condition=models.Q(count__gte=0), name="meter_reading_count_not_negative"),
        ]
        verbose_name = _("meter reading")
        verbose_name_plural = _("meter readings")

    def __str__(self):
        return f"{self.unit_id} = {self.count} at {self.timestamp:%Y-%m-%d %H:%M:%S}"


class MauAlertSetting(models.Model):
    """MAU exceeded alert settings of a tenant."""

    tenant = models.OneToOneField(
        "accounts.Tenant",
        on_delete=models.CASCADE,
        related_name="mau_alert_setting",
        verbose_name=_("tenant"),
    )
    notify_representative = models.BooleanField(_("notify representative"), default=False)
    threshold = models.PositiveIntegerField(_("MAU threshold"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("MAU alert setting")
        verbose_name_plural = _("MAU alert settings")

    def __str__(self):
        return _("MAU alert of %(tenant)s") % {"tenant": self.tenant}


class MauAlert(models.Model):
    """The tenant's MAU crossed its threshold in a month: at most one per (tenant, month), one e-mail."""

    tenant = models.ForeignKey(
        "accounts.Tenant", on_delete=models.CASCADE, related_name="mau_alerts", verbose_name=_("tenant")
    )
    month = models.DateField(_("month"))
    threshold = models.PositiveIntegerField(_("threshold"))
    mau_at_alert = models.BigIntegerField(_("MAU at alert"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    notified_to = models.EmailField(_("notified to"), blank=True)
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)

    class Meta:
        ordering = ["-month"]
        constraints = [models.UniqueConstraint(fields=["tenant", "month"], name="uniq_mau_alert_per_month")]
        verbose_name = _("MAU alert")
        verbose_name_plural = _("MAU alerts")

    def __str__(self):
        return f"{self.tenant} {self.month:%Y-%m}"


class MauBilled(models.Model):
    """How many MAU of a month have been billed, and by which invoice (its `source_key`): one row per invoice
    that billed the month — the monthly invoice, then any late-event adjustment on a later invoice. A month's
    billed MAU is the largest `mau_billed`. Unique per (tenant, month, invoice), so a re-run bills nothing twice."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day of the usage month (tenant's time zone).")
    mau_billed = models.BigIntegerField()
    overage_billed = models.BigIntegerField(
        default=0, help_text="MAU above the plan's maximum billed so far."
    )
    invoice_source_key = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["tenant", "month", "mau_billed"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "month", "invoice_source_key"], name="uniq_mau_billed_per_invoice"
            )
        ]

    def __str__(self):
        return f"{self.tenant} {self.month:%Y-%m}: {self.mau_billed} MAU billed"


class EventOutbox(models.Model):
    """Accepted events waiting to be shipped to the ClickHouse event store (EVENT_STORE_URL=clickhouse://…;
    unused with PostgreSQL). One row per accepted ingest request (the batch's columns), per meter-reading change
    (the reading's value after it) or per tenant to forget (unsubscribed). The shipping task deletes a row in the
    transaction that shipped it, after ClickHouse stored it: at least once, and a row shipped twice collapses there
    by event id (or reading key and version = this row's id)."""

    class Kind(models.TextChoices):
        AUTH_EVENTS = "auth", "Authentication events"
        METER_READING = "meter", "Meter reading"
        FORGET_TENANT = "forget", "Delete the tenant's rows"

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    payload = models.BinaryField(help_text="JSON (orjson) of the batch's columns or the reading.")
    events = models.PositiveIntegerField(default=0, help_text="Authentication events in the row.")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "id"], name="metering_outbox_tenant_id")]

    def __str__(self):
        return f"{self.kind} #{self.pk}"
