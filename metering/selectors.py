"""Reads of the metering app. MAU, daily actives and meter counts come from the event store (event_store.py):
PostgreSQL's maintained counters (never a scan of raw events), or ClickHouse."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from billing_portal.common import clock, providers

from . import event_store
from .models import MauAlert, MauAlertSetting, MeteringUnit


def _month_start(year: int, month: int) -> date:
    return date(year, month, 1)


def mau_count(*, tenant, year: int, month: int, rp_id: str | None = None) -> int:
    """Exact MAU of a tenant (optionally one RP) for a calendar month in the tenant's time zone."""
    return event_store.current().mau(tenant=tenant, month=_month_start(year, month), rp_id=rp_id or "")


def mau_of_tenants(*, tenant_months) -> dict[tuple[int, date], int]:
    """Exact MAU of many (tenant, month first day) pairs at once: {(tenant id, month): MAU}, pairs without events
    left out. With PostgreSQL one statement over the maintained counters (the set-based invoice run); other
    stores are asked tenant by tenant, as `mau_of_months` does."""
    from .models import MauCounter

    pairs = {(tenant.pk, month) for tenant, month in tenant_months}
    if not pairs:
        return {}
    store = event_store.current()
    if isinstance(store, event_store.PostgresEventStore):
        rows = MauCounter.objects.filter(
            tenant_id__in={t for t, _m in pairs},
            month__in={m for _t, m in pairs},
            rp_id=MauCounter.TENANT_TOTAL,
        ).values_list("tenant_id", "month", "mau")
        return {(t, m): mau for t, m, mau in rows if (t, m) in pairs}
    by_tenant: dict = {}
    for tenant, month in tenant_months:
        by_tenant.setdefault(tenant.pk, (tenant, set()))[1].add(month)
    result = {}
    for tenant_id, (tenant, months) in by_tenant.items():
        for month, mau in store.mau_of_months(tenant=tenant, months=sorted(months)).items():
            result[(tenant_id, month)] = mau
    return result


def mau_by_rp(*, tenant, year: int, month: int) -> dict[str, int]:
    return event_store.current().mau_by_rp(tenant=tenant, month=_month_start(year, month))


def mau_of_months(*, tenant, months) -> dict[date, int]:
    """Exact MAU of the tenant in each of these months (first days); months without events are left out."""
    return event_store.current().mau_of_months(tenant=tenant, months=list(months))


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
    values = {
        key: mau
        for key, (mau, _events) in event_store.current()
        .mau_months(tenant=tenant, first=starts[0], last=starts[-1])
        .items()
    }
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
    counts = event_store.current().daily_actives(tenant=tenant, start=start, end=end)
    days = (end - start).days + 1
    return [
        (start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(max(days, 0))
    ]


def mau_evidence_rows(*, tenant, year: int, month: int):
    """The MAU evidence of a month: (user id, first authentication in the tenant's time zone as ISO 8601 with its
    offset, RP) per counted user, by user id — from the event store selected (PostgreSQL's first-seen table or
    ClickHouse). A generator: rows are read in chunks while they are sent."""
    tz = ZoneInfo(tenant.time_zone)
    for user_id, first_at, rp_id in event_store.current().mau_evidence(
        tenant=tenant, month=_month_start(year, month)
    ):
        yield user_id, first_at.astimezone(tz).isoformat(sep=" ") if first_at else "", rp_id


def mau_evidence_header(*, tenant) -> list[str]:
    from django.utils.translation import gettext as _

    return [
        _("User ID"),
        _("First authentication (%(time_zone)s)") % {"time_zone": tenant.time_zone},
        _("RP ID"),
    ]


def mau_evidence_filename(*, tenant, year: int, month: int) -> str:
    return f"mau-evidence-{tenant.slug}-{year:04d}-{month:02d}.csv"


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


def meter_count(
    *, tenant, unit: MeteringUnit, start: datetime, end: datetime, rp_id: str | None = None
) -> int:
    """The unit's count over [start, end) by its aggregation: sum of all counts, or the largest count at one
    timestamp (counts of several channels at the same timestamp add up)."""
    return event_store.current().meter_count(tenant=tenant, unit=unit, start=start, end=end, rp_id=rp_id)


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

    store = event_store.current()
    first = _month_start(year, month)
    for (_month, rp_id), (mau, events) in sorted(
        store.mau_months(tenant=tenant, first=first, last=first).items()
    ):
        if rp_id:
            channel(rp_id).update(mau=mau, auth_events=events)
    units = {u.pk: u for u in MeteringUnit.objects.all()}
    for rp_id, unit_id, n in store.meter_sums(tenant=tenant, start=start, end=end):
        unit = units[unit_id]
        services = channel(rp_id)["services"]
        if unit.aggregation == MeteringUnit.Aggregation.SUM:
            services[unit.unit_name] = services.get(unit.unit_name, 0) + n
        else:
            services[unit.unit_name] = max(services.get(unit.unit_name, 0), n)
    return dict(sorted(result.items()))
