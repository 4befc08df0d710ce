"""The PostgreSQL outbox of the ClickHouse event store, and the shipping of its batches (at least once).

The ingest request only appends one outbox row (its validated columns) in its transaction, so accepting a batch
costs PostgreSQL one INSERT. `events_ship` (beat: `metering.tasks.events_ship_tick`, every
EVENT_STORE_SHIP_SECONDS) takes up to EVENT_STORE_SHIP_ROWS rows under FOR UPDATE SKIP LOCKED (several workers
share the backlog), sends their events and readings to ClickHouse in one insert per table, then deletes the rows
and commits. A crash between ClickHouse's insert and the commit ships the rows again: event rows collapse by
(tenant, event id) — the first accepted copy wins by its priority — and reading rows by their key and version.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import orjson
from django.conf import settings
from django.db import connection, transaction

from accounts.models import Tenant
from billing_portal.common import clock

from . import event_store
from .models import EventOutbox

logger = logging.getLogger(__name__)


def _table() -> str:
    return EventOutbox._meta.db_table


def _insert(*, tenant_id: int, kind: str, payload: dict, events: int = 0) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table()} (tenant_id, kind, payload, events, created_at)"  # noqa: S608 - model meta
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            [tenant_id, kind, orjson.dumps(payload), events, clock.system_now()],
        )
        return cursor.fetchone()[0]


def auth_events_enqueue(*, tenant, ids, rps, users, instants) -> tuple[int, list]:
    """Queue a validated batch (ids unique within it) for ClickHouse. Returns (accepted, [(month ISO, events)])
    for the months before the current one (the late-event report needs them; the others cost nothing here).
    Repeats of ids accepted by earlier requests are accepted again and collapse in ClickHouse."""
    _insert(
        tenant_id=tenant.pk,
        kind=EventOutbox.Kind.AUTH_EVENTS,
        events=len(ids),
        payload={"ids": ids, "rps": rps, "users": users, "instants": instants},
    )
    year, month = clock.month_of(clock.now(), tenant.time_zone)
    current_start, _ = clock.month_bounds(year, month, tenant.time_zone)
    earlier: dict[str, int] = {}
    tz = ZoneInfo(tenant.time_zone)
    for instant in instants:
        if instant < current_start:
            key = instant.astimezone(tz).date().replace(day=1).isoformat()
            earlier[key] = earlier.get(key, 0) + 1
    return len(ids), sorted(earlier.items())


def meter_reading_enqueue(
    *, tenant, unit_id: int, rp_id: str, timestamp: datetime, count: int, deleted: bool = False
) -> None:
    """Queue a reading's value after a change, in the change's transaction (the reading's row lock is held, so
    this row's id orders the changes of one reading: ClickHouse keeps the highest)."""
    _insert(
        tenant_id=tenant.pk,
        kind=EventOutbox.Kind.METER_READING,
        payload={"unit": unit_id, "rp": rp_id, "ts": timestamp, "count": count, "deleted": deleted},
    )


def tenant_forget_enqueue(*, tenant_id: int) -> None:
    """Queue the deletion of a tenant's rows in ClickHouse (unsubscribe), once."""
    if not EventOutbox.objects.filter(tenant_id=tenant_id, kind=EventOutbox.Kind.FORGET_TENANT).exists():
        _insert(tenant_id=tenant_id, kind=EventOutbox.Kind.FORGET_TENANT, payload={})


def _naive_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


_BUCKET = 900  # UTC offsets change on quarter hours (UTC), so one offset holds for a whole 15-minute bucket


class _LocalDays:
    """Calendar day and month (first day) of instants in one time zone: the offset of each 15-minute UTC bucket
    is looked up once (a bucket where it changes is computed event by event), day numbers turned into dates once."""

    def __init__(self, tz_name: str):
        self.tz = ZoneInfo(tz_name)
        self.offsets: dict[int, int | None] = {}

    def offset(self, instant: datetime, ts: float) -> int:
        bucket = int(ts // _BUCKET)
        offset = self.offsets.get(bucket, -1)
        if offset == -1:
            first = datetime.fromtimestamp(bucket * _BUCKET, UTC).astimezone(self.tz).utcoffset()
            last = datetime.fromtimestamp((bucket + 1) * _BUCKET - 1e-6, UTC).astimezone(self.tz).utcoffset()
            offset = self.offsets[bucket] = int(first.total_seconds()) if first == last else None
        if offset is None:  # the offset changes within this bucket
            return int(instant.astimezone(self.tz).utcoffset().total_seconds())
        return offset


_DAYS: dict[int, tuple[date, date]] = {}
_UNIX_DAY_ORDINAL = date(1970, 1, 1).toordinal()


def _day_and_month(day_number: int) -> tuple[date, date]:
    found = _DAYS.get(day_number)
    if found is None:
        day = date.fromordinal(_UNIX_DAY_ORDINAL + day_number)
        found = _DAYS[day_number] = (day, day.replace(day=1))
    return found


def _columns(rows, zones: dict[int, str]) -> tuple[dict, dict, list[int]]:
    """The ClickHouse insert blocks of outbox rows: (auth_events columns, meter_readings columns, tenants to
    forget). Month and day are computed here, in the tenant's time zone."""
    auth = {
        name: []
        for name in ("tenant_id", "event_id", "rp_id", "user_id", "occurred_at", "month", "day", "priority")
    }
    meter = {
        name: [] for name in ("tenant_id", "unit_id", "rp_id", "timestamp", "count", "version", "is_deleted")
    }
    forget = []
    local_days: dict[str, _LocalDays] = {}
    parse = datetime.fromisoformat
    for row_id, tenant_id, kind, payload in rows:
        if kind == EventOutbox.Kind.FORGET_TENANT:
            forget.append(tenant_id)
            continue
        data = orjson.loads(bytes(payload))
        if kind == EventOutbox.Kind.METER_READING:
            meter["tenant_id"].append(tenant_id)
            meter["unit_id"].append(data["unit"])
            meter["rp_id"].append(data["rp"])
            meter["timestamp"].append(_naive_utc(data["ts"]))
            meter["count"].append(data["count"])
            meter["version"].append(row_id)
            meter["is_deleted"].append(1 if data["deleted"] else 0)
            continue
        tz_name = zones[tenant_id]
        days = local_days.get(tz_name) or local_days.setdefault(tz_name, _LocalDays(tz_name))
        n = len(data["ids"])
        auth["tenant_id"] += [tenant_id] * n
        auth["event_id"] += data["ids"]
        auth["rp_id"] += data["rps"]
        auth["user_id"] += data["users"]
        auth["priority"] += [event_store.PRIORITY_BASE - row_id] * n
        occurred, day_col, month_col = auth["occurred_at"], auth["day"], auth["month"]
        for text in data["instants"]:
            instant = parse(text)
            ts = instant.timestamp()
            day, month = _day_and_month(int((ts + days.offset(instant, ts)) // 86400))
            day_col.append(day)
            month_col.append(month)
            # RFC 3339 as orjson wrote it; in UTC already, ClickHouse reads it without the offset.
            occurred.append(
                text[:-6] if text.endswith("+00:00") else instant.astimezone(UTC).replace(tzinfo=None)
            )
    return auth, meter, forget


def events_ship(*, tenant=None, max_rows: int | None = None) -> dict:
    """Ship up to `max_rows` outbox rows (oldest first) to ClickHouse; with `tenant`, that tenant's rows only,
    waiting for a shipment of its rows under way (so the caller then reads everything accepted before).
    Returns {"rows", "events", "readings"}. Nothing to do (and no query) with the PostgreSQL store."""
    store = event_store.current()
    shipped = {"rows": 0, "events": 0, "readings": 0}
    if not store.uses_outbox:
        return shipped
    limit = int(max_rows or getattr(settings, "EVENT_STORE_SHIP_ROWS", 100))
    with transaction.atomic():
        with connection.cursor() as cursor:
            if tenant is None:
                cursor.execute(
                    f"SELECT id, tenant_id, kind, payload FROM {_table()} ORDER BY id LIMIT %s"  # noqa: S608
                    " FOR UPDATE SKIP LOCKED",
                    [limit],
                )
            else:
                cursor.execute(
                    f"SELECT id, tenant_id, kind, payload FROM {_table()} WHERE tenant_id = %s"  # noqa: S608
                    " ORDER BY id LIMIT %s FOR UPDATE",
                    [tenant.pk, limit],
                )
            rows = cursor.fetchall()
            if not rows:
                return shipped
            tenant_ids = sorted({row[1] for row in rows})
            zones = dict(Tenant.objects.filter(pk__in=tenant_ids).values_list("pk", "time_zone"))
            auth, meter, forget = _columns(rows, zones)
            store.insert("auth_events", auth)
            store.insert("meter_readings", meter)
            for tenant_id in forget:
                store.forget_tenant(tenant_id)
            cursor.execute(f"DELETE FROM {_table()} WHERE id = ANY(%s)", [[row[0] for row in rows]])  # noqa: S608
    _mau_alerts_check(sorted({row[1] for row in rows if row[2] == EventOutbox.Kind.AUTH_EVENTS}))
    shipped.update(rows=len(rows), events=len(auth["event_id"]), readings=len(meter["unit_id"]))
    return shipped


def events_ship_all(*, max_rounds: int = 1000) -> dict:
    """Ship until the outbox is empty (or `max_rounds` batches: the beat tick comes back for the rest)."""
    total = {"rows": 0, "events": 0, "readings": 0}
    for _ in range(max_rounds):
        shipped = events_ship()
        if not shipped["rows"]:
            break
        for key in total:
            total[key] += shipped[key]
    return total


def outbox_backlog() -> dict:
    """What waits to be shipped: {"rows", "events", "oldest": created_at or None} (admin, health, benchmarks)."""
    from django.db.models import Count, Min, Sum

    agg = EventOutbox.objects.aggregate(rows=Count("id"), events=Sum("events"), oldest=Min("created_at"))
    return {"rows": agg["rows"], "events": agg["events"] or 0, "oldest": agg["oldest"]}


def _mau_alerts_check(tenant_ids: list[int]) -> None:
    """After events of these tenants reached ClickHouse: raise this month's MAU alert where the MAU has reached the
    threshold (as the PostgreSQL path does in the ingest request)."""
    if not tenant_ids:
        return
    from .models import MauAlertSetting
    from .services import _mau_alert_check

    watched = MauAlertSetting.objects.filter(
        tenant_id__in=tenant_ids, notify_representative=True, threshold__isnull=False
    ).values_list("tenant_id", flat=True)
    store = event_store.current()
    for tenant in Tenant.objects.filter(pk__in=list(watched)):
        year, month = clock.month_of(clock.now(tenant=tenant), tenant.time_zone)
        start = date(year, month, 1)
        try:
            mau = store.mau(tenant=tenant, month=start)
        except Exception:  # ClickHouse unreachable: the next shipment checks again
            logger.warning(
                "MAU alert check skipped for tenant %s: event store unavailable", tenant.pk, exc_info=True
            )
            continue
        with clock.tenant_scope(tenant):
            _mau_alert_check(tenant=tenant, grown=[(start.isoformat(), mau)])
