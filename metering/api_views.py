"""Operator API of metering: ingest of authentication events, MAU, SaaSus-style metering units. Thin: validate,
call one service or selector, answer JSON (mounted by billing_portal/api.py under /api/v1/)."""

from typing import Annotated, Literal

from ninja import Body, Query, Router, Schema
from pydantic import Field, SkipValidation, StrictInt

from accounts.api_auth import api_tenant
from accounts.api_idempotency import idempotent
from billing_portal.common import clock
from billing_portal.common.api import (
    BIGINT_MAX,
    Day,
    ErrorCode,
    Month,
    TenantSlug,
    UnitName,
    UnixSeconds,
    error_responses,
    text,
)
from billing_portal.common.csv_stream import csv_response
from billing_portal.common.exceptions import ApplicationError

from . import selectors, services

router = Router(tags=["metering"])
TENANT = "/tenants/{slug:tenant}"
UNIT = TENANT + "/units/{slug:unit}"


# --- authentication events → MAU ----------------------------------------------------------------------------


class AuthEventIn(Schema):
    id: Annotated[str, Field(min_length=1, max_length=200)] | int = Field(
        description="Unique per tenant: a repeated id is a duplicate. An integer is taken as its decimal string."
    )
    rp: str = Field(
        max_length=255, description="A registered RP of the tenant.", examples=["login.example.com"]
    )
    user_id: str = Field(min_length=1, max_length=255)
    occurred_at: str = Field(
        json_schema_extra={"format": "date-time"},
        examples=["2026-11-02T10:00:00Z"],
        description="ISO 8601 with a time zone; at most 5 minutes in the future.",
    )


class AuthEventBatchIn(Schema):
    # Described here, checked by metering.services.auth_events_validate (the hot path: one pass over the batch
    # in plain Python, and a per-event error list instead of the first failure).
    events: Annotated[
        SkipValidation[Annotated[list[AuthEventIn], Field(max_length=services.MAX_EVENTS_PER_REQUEST)]],
        ErrorCode("invalid_events"),
        Field(description=f"Up to {services.MAX_EVENTS_PER_REQUEST:,} events, all stored or none."),
    ]


class IngestOut(Schema):
    accepted: int = Field(description="New events stored.")
    duplicates: int = Field(description="Events already stored, or repeated in this batch.")
    late: int = Field(description="Accepted events of months already invoiced (billed as an adjustment).")
    late_months: list[str] = Field(description="Those months, YYYY-MM.")


class MauOut(Schema):
    month: str = Field(examples=["2026-11"])
    mau: int
    max_mau: int | None = Field(description="The license's maximum MAU, null for none.")
    by_rp: dict[str, int]


class DayActive(Schema):
    date: str
    dau: int


class DailyActivesOut(Schema):
    days: list[DayActive]


class ChannelUsage(Schema):
    mau: int
    auth_events: int
    services: dict[str, int]


class UsageOut(Schema):
    month: str
    channels: dict[str, ChannelUsage] = Field(description='Per RP; readings without an RP under "".')


READ_ERRORS = error_responses(400, 401, 403, 404)


@router.post(TENANT + "/auth-events", response={200: IngestOut, **error_responses(400, 401, 403, 404, 413)})
def auth_events(request, tenant: TenantSlug, batch: Body[AuthEventBatchIn]):
    """Ingest authentication events; idempotent by event id (a replayed batch changes nothing).

    → `accepted`, `duplicates`, `late`, `late_months`: `late` counts accepted events of months already
    invoiced; they count in their month and their extra MAU overage is an adjustment line on the next invoice.
    A batch with any bad event is refused whole (400 `invalid_events`, each problem listed)."""
    return services.auth_events_ingest(tenant=api_tenant(request), events=batch.events)


def _month_or_current(tenant, month):
    return month if month is not None else clock.month_of(clock.now(), tenant.time_zone)


@router.get(TENANT + "/mau", response={200: MauOut, **READ_ERRORS})
def mau(request, tenant: TenantSlug, month: Query[Month | None] = None):
    """Exact MAU of a month (default: this month in the tenant's time zone), total and per RP."""
    tenant = api_tenant(request)
    year, mon = _month_or_current(tenant, month)
    return {
        "month": f"{year:04d}-{mon:02d}",
        "mau": selectors.mau_count(tenant=tenant, year=year, month=mon),
        "max_mau": selectors.max_mau(tenant=tenant),
        "by_rp": selectors.mau_by_rp(tenant=tenant, year=year, month=mon),
    }


MAU_EVIDENCE_CSV = {
    200: {
        "description": (
            "The counted users of the month as CSV (UTF-8 with a BOM, streamed), one row per user by user id: "
            "user ID, first authentication of the month in the tenant's time zone (ISO 8601 with its offset), "
            "the RP of that authentication. Headers in the request's language (Accept-Language)."
        ),
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get(
    TENANT + "/mau/evidence",
    response={200: None, **READ_ERRORS},
    openapi_extra={"responses": MAU_EVIDENCE_CSV},
)
def mau_evidence(request, tenant: TenantSlug, month: Query[Month]):
    """The MAU evidence of a month: every user counted in its MAU with their first authentication (streamed CSV),
    from the event store in use — for showing a customer who disputes an overage exactly who was counted."""
    tenant = api_tenant(request)
    year, mon = month
    return csv_response(
        selectors.mau_evidence_header(tenant=tenant),
        selectors.mau_evidence_rows(tenant=tenant, year=year, month=mon),
        filename=selectors.mau_evidence_filename(tenant=tenant, year=year, month=mon),
    )


@router.get(TENANT + "/daily-actives", response={200: DailyActivesOut, **READ_ERRORS})
def daily_actives(
    request,
    tenant: TenantSlug,
    start: Annotated[Day, Query(alias="from")],
    end: Annotated[Day, Query(alias="to")],
):
    """Exact daily active users per day, `?from=YYYY-MM-DD&to=YYYY-MM-DD` (at most 366 days)."""
    if not 0 <= (end - start).days <= 365:
        raise ApplicationError("'to' must be on or after 'from', at most 366 days.", code="bad_range")
    rows = selectors.daily_actives(tenant=api_tenant(request), start=start, end=end)
    return {"days": [{"date": d.isoformat(), "dau": n} for d, n in rows]}


@router.get(TENANT + "/usage", response={200: UsageOut, **READ_ERRORS})
def usage(request, tenant: TenantSlug, month: Query[Month | None] = None):
    """Usage of a month per channel (RP): MAU, authentication events and each metering unit's count."""
    tenant = api_tenant(request)
    year, mon = _month_or_current(tenant, month)
    return {
        "month": f"{year:04d}-{mon:02d}",
        "channels": selectors.usage_by_channel(tenant=tenant, year=year, month=mon),
    }


# --- metering units (SaaSus-style) --------------------------------------------------------------------------


class MeterReadingIn(Schema):
    method: Annotated[Literal["add", "sub", "direct"], ErrorCode("bad_method")] = Field(
        description="`add` to or `sub`tract from the count at the timestamp, or set it (`direct`)."
    )
    count: Annotated[StrictInt, ErrorCode("bad_count")] = Field(ge=0, le=BIGINT_MAX)
    rp: text(255, code="unknown_rp") | None = Field(
        None, description="The reading's channel (a registered RP)."
    )


class ReadingOut(Schema):
    unit: str
    timestamp: int = Field(description="Unix seconds.")
    rp: str | None
    count: int


class DeletedOut(Schema):
    unit: str
    timestamp: int
    deleted: bool


class UnitCountDayOut(Schema):
    unit: str
    aggregation: Literal["sum", "max"]
    date: str
    count: int


class UnitCountMonthOut(Schema):
    unit: str
    aggregation: Literal["sum", "max"]
    month: str
    count: int


class UnitsDayOut(Schema):
    date: str
    units: dict[str, int]


class UnitsMonthOut(Schema):
    month: str
    units: dict[str, int]


WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422)


def _reading(reading):
    return {
        "unit": reading.unit.unit_name,
        "timestamp": int(reading.timestamp.timestamp()),
        "rp": reading.rp_id or None,
        "count": reading.count,
    }


def _put(request, unit, instant, reading: MeterReadingIn):
    return _reading(
        services.meter_reading_put(
            tenant=api_tenant(request),
            unit_name=unit,
            timestamp=instant,
            method=reading.method,
            count=reading.count,
            rp_id=reading.rp or "",
        )
    )


# Before the unit routes: `units/date/today` is a bad date, not the unit `date`.
@router.get(TENANT + "/units/date/{day}", response={200: UnitsDayOut, **READ_ERRORS})
def units_date(request, tenant: TenantSlug, day: Day):
    """Every unit's count of a day."""
    return {"date": day.isoformat(), "units": selectors.meter_counts_day(tenant=api_tenant(request), day=day)}


@router.get(TENANT + "/units/month/{month}", response={200: UnitsMonthOut, **READ_ERRORS})
def units_month(request, tenant: TenantSlug, month: Month):
    """Every unit's count of a month."""
    year, mon = month
    return {
        "month": f"{year:04d}-{mon:02d}",
        "units": selectors.meter_counts_month(tenant=api_tenant(request), year=year, month=mon),
    }


@router.put(UNIT + "/timestamp/{timestamp}", response={200: ReadingOut, **WRITE_ERRORS})
@idempotent
def unit_at_timestamp_put(
    request, tenant: TenantSlug, unit: UnitName, timestamp: UnixSeconds, reading: Body[MeterReadingIn]
):
    """Add to, subtract from or set the unit's count at a Unix timestamp (409 `negative_count` below zero)."""
    return _put(request, unit, services.instant_from_unix(timestamp), reading)


@router.delete(UNIT + "/timestamp/{timestamp}", response={200: DeletedOut, **READ_ERRORS})
def unit_at_timestamp_delete(
    request, tenant: TenantSlug, unit: UnitName, timestamp: UnixSeconds, rp: Query[text(255) | None] = None
):
    """Remove the unit's reading at the timestamp (of `?rp=` when given); 404 when there is none."""
    instant = services.instant_from_unix(timestamp)
    services.meter_reading_delete(
        tenant=api_tenant(request), unit_name=unit, timestamp=instant, rp_id=rp or ""
    )
    return {"unit": unit, "timestamp": int(instant.timestamp()), "deleted": True}


@router.put(UNIT + "/now", response={200: ReadingOut, **WRITE_ERRORS})
@idempotent
def unit_now(request, tenant: TenantSlug, unit: UnitName, reading: Body[MeterReadingIn]):
    """The same at the current second."""
    return _put(request, unit, clock.now().replace(microsecond=0), reading)


def _unit_day(tenant, unit_name, day):
    unit = services.metering_unit_get(unit_name=unit_name)
    return {
        "unit": unit.unit_name,
        "aggregation": unit.aggregation,
        "date": day.isoformat(),
        "count": selectors.meter_count_day(tenant=tenant, unit=unit, day=day),
    }


def _unit_month(tenant, unit_name, year, month):
    unit = services.metering_unit_get(unit_name=unit_name)
    return {
        "unit": unit.unit_name,
        "aggregation": unit.aggregation,
        "month": f"{year:04d}-{month:02d}",
        "count": selectors.meter_count_month(tenant=tenant, unit=unit, year=year, month=month),
    }


@router.get(UNIT + "/date/{day}", response={200: UnitCountDayOut, **READ_ERRORS})
def unit_date(request, tenant: TenantSlug, unit: UnitName, day: Day):
    """The unit's count of a day in the tenant's time zone, by its aggregation (sum or max)."""
    return _unit_day(api_tenant(request), unit, day)


@router.get(UNIT + "/today", response={200: UnitCountDayOut, **READ_ERRORS})
def unit_today(request, tenant: TenantSlug, unit: UnitName):
    """The same for today."""
    tenant = api_tenant(request)
    return _unit_day(tenant, unit, clock.today_in(tenant.time_zone))


@router.get(UNIT + "/month/{month}", response={200: UnitCountMonthOut, **READ_ERRORS})
def unit_month(request, tenant: TenantSlug, unit: UnitName, month: Month):
    """The unit's count of a calendar month in the tenant's time zone, by its aggregation."""
    return _unit_month(api_tenant(request), unit, *month)


@router.get(UNIT + "/thismonth", response={200: UnitCountMonthOut, **READ_ERRORS})
def unit_this_month(request, tenant: TenantSlug, unit: UnitName):
    """The same for this month."""
    tenant = api_tenant(request)
    return _unit_month(tenant, unit, *clock.month_of(clock.now(), tenant.time_zone))
