"""Operator API of metering: ingest of authentication events, MAU, SaaSus-style metering units."""

import re
from datetime import date

from django.utils.translation import gettext as _

from billing_portal.common import clock
from billing_portal.common.api import api_view
from billing_portal.common.exceptions import ApplicationError

from . import selectors, services

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: str) -> tuple[int, int]:
    match = MONTH_RE.match(value or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ApplicationError(_("Bad month '%(value)s': use YYYY-MM.") % {"value": value}, code="bad_month")
    return int(match.group(1)), int(match.group(2))


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ApplicationError(_("Bad date '%(value)s': use YYYY-MM-DD.") % {"value": value}, code="bad_date") from None


@api_view(["POST"])
def auth_events(request, tenant):
    """Ingest → {"accepted", "duplicates", "late", "late_months"}: `late` counts accepted events of months already
    invoiced; they count in their month and their extra MAU overage is an adjustment line on the next invoice."""
    if "events" not in request.json:
        raise ApplicationError(_('Send {"events": [...]}.'), code="invalid_events")
    return services.auth_events_ingest(tenant=tenant, events=request.json["events"])


@api_view(["GET"])
def mau(request, tenant):
    month = request.GET.get("month")
    year, mon = parse_month(month) if month else clock.month_of(clock.now(), tenant.time_zone)
    return {
        "month": f"{year:04d}-{mon:02d}",
        "mau": selectors.mau_count(tenant=tenant, year=year, month=mon),
        "max_mau": selectors.max_mau(tenant=tenant),
        "by_rp": selectors.mau_by_rp(tenant=tenant, year=year, month=mon),
    }


def _reading(reading):
    return {
        "unit": reading.unit.unit_name,
        "timestamp": int(reading.timestamp.timestamp()),
        "rp": reading.rp_id or None,
        "count": reading.count,
    }


def _put(request, tenant, unit, timestamp):
    data = request.json
    reading = services.meter_reading_put(
        tenant=tenant, unit_name=unit, timestamp=timestamp, method=data.get("method"), count=data.get("count"),
        rp_id=data.get("rp") or "",
    )
    return _reading(reading)


@api_view(["PUT", "DELETE"])
def unit_at_timestamp(request, tenant, unit, timestamp):
    instant = services.instant_from_unix(timestamp)
    if request.method == "DELETE":
        services.meter_reading_delete(
            tenant=tenant, unit_name=unit, timestamp=instant, rp_id=request.GET.get("rp", "")
        )
        return {"unit": unit, "timestamp": int(instant.timestamp()), "deleted": True}
    return _put(request, tenant, unit, instant)


@api_view(["PUT"])
def unit_now(request, tenant, unit):
    return _put(request, tenant, unit, clock.now().replace(microsecond=0))


def _unit_day(tenant, unit_name, day):
    unit = services.metering_unit_get(unit_name=unit_name)
    return {
        "unit": unit.unit_name, "aggregation": unit.aggregation, "date": day.isoformat(),
        "count": selectors.meter_count_day(tenant=tenant, unit=unit, day=day),
    }


def _unit_month(tenant, unit_name, year, month):
    unit = services.metering_unit_get(unit_name=unit_name)
    return {
        "unit": unit.unit_name, "aggregation": unit.aggregation, "month": f"{year:04d}-{month:02d}",
        "count": selectors.meter_count_month(tenant=tenant, unit=unit, year=year, month=month),
    }


@api_view(["GET"])
def unit_date(request, tenant, unit, day):
    return _unit_day(tenant, unit, parse_date(day))


@api_view(["GET"])
def unit_today(request, tenant, unit):
    return _unit_day(tenant, unit, clock.today_in(tenant.time_zone))


@api_view(["GET"])
def unit_month(request, tenant, unit, month):
    return _unit_month(tenant, unit, *parse_month(month))


@api_view(["GET"])
def unit_this_month(request, tenant, unit):
    return _unit_month(tenant, unit, *clock.month_of(clock.now(), tenant.time_zone))


@api_view(["GET"])
def units_date(request, tenant, day):
    parsed = parse_date(day)
    return {"date": parsed.isoformat(), "units": selectors.meter_counts_day(tenant=tenant, day=parsed)}


@api_view(["GET"])
def units_month(request, tenant, month):
    year, mon = parse_month(month)
    return {"month": f"{year:04d}-{mon:02d}", "units": selectors.meter_counts_month(tenant=tenant, year=year, month=mon)}


@api_view(["GET"])
def usage(request, tenant):
    month = request.GET.get("month")
    year, mon = parse_month(month) if month else clock.month_of(clock.now(), tenant.time_zone)
    return {"month": f"{year:04d}-{mon:02d}", "channels": selectors.usage_by_channel(tenant=tenant, year=year, month=mon)}


@api_view(["GET"])
def daily_actives(request, tenant):
    """Exact daily active users per day, `?from=YYYY-MM-DD&to=YYYY-MM-DD` (at most 366 days)."""
    start, end = parse_date(request.GET.get("from")), parse_date(request.GET.get("to"))
    if not 0 <= (end - start).days <= 365:
        raise ApplicationError(_("'to' must be on or after 'from', at most 366 days."), code="bad_range")
    return {"days": [{"date": d.isoformat(), "dau": n} for d, n in selectors.daily_actives(tenant=tenant, start=start, end=end)]}
