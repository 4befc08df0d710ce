"""Reads of the metering app. MAU comes from maintained counters, never from scanning raw events."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Sum

from billing_portal.common import clock, providers

from .models import DailyActiveCounter, MauAlert, MauAlertSetting, MauCounter, MeteringUnit, MeterReading


def _month_start(year: int, month: int) -> date:
    return date(year, month, 1)


def mau_count(*, tenant, year: int, month: int, rp_id: str | None = None) -> int:
    """Exact MAU of a tenant (optionally one RP) for a calendar month in the tenant's time zone."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT mau FROM {MauCounter._meta.db_table} WHERE tenant_id = %s AND month = %s AND rp_id = %s",  # noqa: S608
            [tenant.pk, _month_start(year, month), rp_id or MauCounter.TENANT_TOTAL],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def mau_by_rp(*, tenant, year: int, month: int) -> dict[str, int]:
    rows = MauCounter.objects.filter(tenant=tenant, month=_month_start(year, month)).exclude(rp_id="")
    return {row.rp_id: row.mau for row in rows.order_by("rp_id")}


def months_back(*, tenant, count: int) -> list[tuple[int, int]]:
    """The last `count` calendar months (oldest first) up to this month, in the tenant's time zone."""
    year, month = clock.month_of(clock.now(), tenant.time_zone)
    result = []
    for _ in range(count):
        result.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return result[::-1]


def mau_history(*, tenant, months: int) -> dict:
    """MAU per RP and in total for the last `months` months: {"labels": [...], "total": [...], "by_rp": {rp: [...]}}."""
    from accounts.models import RelyingParty

    periods = months_back(tenant=tenant, count=months)
    starts = [_month_start(y, m) for y, m in periods]
    rows = MauCounter.objects.filter(tenant=tenant, month__gte=starts[0], month__lte=starts[-1])
    values = {(row.month, row.rp_id): row.mau for row in rows}
    rps = sorted(
        set(RelyingParty.objects.filter(tenant=tenant).values_list("rp_id", flat=True))
        | {rp for (_, rp) in values if rp}
    )
    return {
        "labels": [f"{s:%Y-%m}" for s in starts],
        "total": [values.get((s, ""), 0) for s in starts],
        "by_rp": {rp: [values.get((s, rp), 0) for s in starts] for rp in rps},
    }


def daily_actives(*, tenant, start: date, end: date) -> list[tuple[date, int]]:
    """Exact daily active users for each day in [start, end] (tenant's time zone), zero-filled, for graphs."""
    counts = dict(
        DailyActiveCounter.objects.filter(tenant=tenant, day__gte=start, day__lte=end).values_list("day", "dau")
    )
    days = (end - start).days + 1
    return [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(max(days, 0))]


def mau_alert_setting_get(*, tenant) -> MauAlertSetting:
    return MauAlertSetting.objects.filter(tenant=tenant).first() or MauAlertSetting(tenant=tenant)


def mau_alert_this_month(*, tenant) -> MauAlert | None:
    year, month = clock.month_of(clock.now(), tenant.time_zone)
    return MauAlert.objects.filter(tenant=tenant, month=_month_start(year, month)).first()


def max_mau(*, tenant) -> int | None:
    """The MAU limit of the tenant's plan, None for unlimited (licenses answers, billing_portal.common.providers)."""
    return providers.get("mau_limit")(tenant=tenant)


# --- meter readings -----------------------------------------------------------------------------------------


def day_bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(tz_name)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    utc = ZoneInfo("UTC")
    return start.astimezone(utc), end.astimezone(utc)


def meter_count(*, tenant, unit: MeteringUnit, start: datetime, end: datetime, rp_id: str | None = None) -> int:
    """The unit's count over [start, end) by its aggregation: sum of all counts, or the largest count at one
    timestamp (counts of several channels at the same timestamp add up)."""
    readings = MeterReading.objects.filter(tenant=tenant, unit=unit, timestamp__gte=start, timestamp__lt=end)
    if rp_id is not None:
        readings = readings.filter(rp_id=rp_id)
    if unit.aggregation == MeteringUnit.Aggregation.SUM:
        return readings.aggregate(n=Sum("count"))["n"] or 0
    per_timestamp = readings.values("timestamp").annotate(n=Sum("count")).order_by()
    return max((row["n"] for row in per_timestamp), default=0)


def meter_count_day(*, tenant, unit, day: date) -> int:
    start, end = day_bounds(day, tenant.time_zone)
    return meter_count(tenant=tenant, unit=unit, start=start, end=end)


def meter_count_month(*, tenant, unit, year: int, month: int) -> int:
    start, end = clock.month_bounds(year, month, tenant.time_zone)
    return meter_count(tenant=tenant, unit=unit, start=start, end=end)


def meter_counts_day(*, tenant, day: date) -> dict[str, int]:
    return {u.unit_name: meter_count_day(tenant=tenant, unit=u, day=day) for u in MeteringUnit.objects.all()}


def meter_counts_month(*, tenant, year: int, month: int) -> dict[str, int]:
    return {
        u.unit_name: meter_count_month(tenant=tenant, unit=u, year=year, month=month)
        for u in MeteringUnit.objects.all()
    }


def usage_by_channel(*, tenant, year: int, month: int) -> dict[str, dict]:
    """Usage of a month per channel (RP) and service, for the billing-information page.

    {rp_id: {"mau": n, "auth_events": n, "services": {unit_name: count by the unit's aggregation}}};
    meter readings not tied to a channel appear under "".
    """
    start, end = clock.month_bounds(year, month, tenant.time_zone)
    result: dict[str, dict] = {}

    def channel(rp):
        return result.setdefault(rp, {"mau": 0, "auth_events": 0, "services": {}})

    for row in MauCounter.objects.filter(tenant=tenant, month=_month_start(year, month)).exclude(rp_id=""):
        channel(row.rp_id).update(mau=row.mau, auth_events=row.events)
    readings = MeterReading.objects.filter(tenant=tenant, timestamp__gte=start, timestamp__lt=end)
    units = {u.pk: u for u in MeteringUnit.objects.all()}
    sums = readings.values("rp_id", "unit_id", "timestamp").annotate(n=Sum("count")).order_by()
    for row in sums:
        unit = units[row["unit_id"]]
        services = channel(row["rp_id"])["services"]
        if unit.aggregation == MeteringUnit.Aggregation.SUM:
            services[unit.unit_name] = services.get(unit.unit_name, 0) + row["n"]
        else:
            services[unit.unit_name] = max(services.get(unit.unit_name, 0), row["n"])
    return dict(sorted(result.items()))
