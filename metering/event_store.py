"""Where authentication events and meter readings are counted: PostgreSQL (default) or ClickHouse.

`EVENT_STORE_URL` chooses: unset or `postgres` — today's path, everything in PostgreSQL (the ingest statement in
services.py maintains first-seen tables and counters in the request's transaction); `clickhouse://…` (or
`chdb://…` in tests and benchmarks, metering/clickhouse.py) — the ingest API writes each accepted batch to a
PostgreSQL outbox (`EventOutbox`, one row per request), the beat task `metering.tasks.events_ship_tick` ships
batches to ClickHouse (at least once: a batch shipped twice collapses by event id), and MAU, MAU per RP, daily
actives and meter counts are computed there, exactly (`uniqExact` over the de-duplicated rows, FINAL).
PostgreSQL stays the system of record for everything else, and billed MAU is frozen there when a month is
invoiced (`MauBilled`, payments/invoicing/late_usage.py).

The selectors (metering/selectors.py) are the only readers; they ask `current()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from .models import DailyActiveCounter, MauCounter, MauFirstSeen, MeteringUnit, MeterReading

EVIDENCE_CHUNK = 5_000  # rows per round trip of the MAU evidence export


class EventStore:
    """What the metering reads and the ingest need from an event store. Months are first days (tenant's time zone),
    days are calendar days there; instants are aware datetimes; [start, end) ranges."""

    name = ""
    uses_outbox = False  # ingest queues batches in PostgreSQL for the shipping task

    def record_auth_events(self, *, tenant, ids, rps, users, instants) -> tuple[int, list, list]:
        """Store a validated batch (ids unique within it). Returns (accepted, [(month ISO, accepted events)],
        [(month ISO, MAU after the batch)] for months whose MAU grew — [] when not known at once)."""
        raise NotImplementedError

    def mau(self, *, tenant, month: date, rp_id: str = "") -> int:
        raise NotImplementedError

    def mau_by_rp(self, *, tenant, month: date) -> dict[str, int]:
        raise NotImplementedError

    def mau_months(self, *, tenant, first: date, last: date) -> dict[tuple[date, str], tuple[int, int]]:
        """{(month, rp_id or ""): (MAU, events)} for months in [first, last]; "" is the whole tenant."""
        raise NotImplementedError

    def mau_of_months(self, *, tenant, months: list[date]) -> dict[date, int]:
        """{month: MAU} of the whole tenant for these months (those without events may be left out)."""
        raise NotImplementedError

    def daily_actives(self, *, tenant, start: date, end: date) -> dict[date, int]:
        raise NotImplementedError

    def mau_evidence(self, *, tenant, month: date) -> Iterator[tuple[str, datetime | None, str]]:
        """The month's counted users, by user id (byte order): (user_id, first authentication instant, its RP) —
        the earliest event of the user in the month (ties: the smallest RP id). Streamed: constant memory."""
        raise NotImplementedError

    def meter_count(self, *, tenant, unit, start: datetime, end: datetime, rp_id: str | None = None) -> int:
        """The unit's count over [start, end): sum of all counts, or (max units) the largest total at one
        timestamp (counts of several channels at the same timestamp add up)."""
        raise NotImplementedError

    def meter_sums(self, *, tenant, start: datetime, end: datetime) -> list[tuple[str, int, int]]:
        """[(rp_id, unit_id, count)] per reading timestamp in [start, end), for usage by channel."""
        raise NotImplementedError


class PostgresEventStore(EventStore):
    """Today's path: maintained counters and first-seen tables in PostgreSQL (never a scan of raw events)."""

    name = "postgres"

    def record_auth_events(self, *, tenant, ids, rps, users, instants):
        from .services import auth_events_store_postgres

        return auth_events_store_postgres(tenant=tenant, ids=ids, rps=rps, users=users, instants=instants)

    def mau(self, *, tenant, month, rp_id=""):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT mau FROM {MauCounter._meta.db_table} WHERE tenant_id = %s AND month = %s AND rp_id = %s",  # noqa: S608
                [tenant.pk, month, rp_id or MauCounter.TENANT_TOTAL],
            )
            row = cursor.fetchone()
        return row[0] if row else 0

    def mau_by_rp(self, *, tenant, month):
        rows = MauCounter.objects.filter(tenant=tenant, month=month).exclude(rp_id="")
        return {row.rp_id: row.mau for row in rows.order_by("rp_id")}

    def mau_months(self, *, tenant, first, last):
        rows = MauCounter.objects.filter(tenant=tenant, month__gte=first, month__lte=last)
        return {(row.month, row.rp_id): (row.mau, row.events) for row in rows}

    def mau_of_months(self, *, tenant, months):
        return dict(
            MauCounter.objects.filter(tenant=tenant, rp_id="", month__in=list(months)).values_list(
                "month", "mau"
            )
        )

    def daily_actives(self, *, tenant, start, end):
        return dict(
            DailyActiveCounter.objects.filter(tenant=tenant, day__gte=start, day__lte=end).values_list(
                "day", "dau"
            )
        )

    def mau_evidence(self, *, tenant, month):
        # MauFirstSeen is the evidence (kept when raw events' partitions are dropped); its unique index
        # (tenant, month, user_id) gives the order. A server-side cursor reads it EVIDENCE_CHUNK rows at a time.
        rows = (
            MauFirstSeen.objects.filter(tenant=tenant, month=month)
            .order_by("user_id")
            .values_list("user_id", "first_at", "rp_id")
        )
        yield from rows.iterator(chunk_size=EVIDENCE_CHUNK)

    def meter_count(self, *, tenant, unit, start, end, rp_id=None):
        readings = MeterReading.objects.filter(
            tenant=tenant, unit=unit, timestamp__gte=start, timestamp__lt=end
        )
        if rp_id is not None:
            readings = readings.filter(rp_id=rp_id)
        if unit.aggregation == MeteringUnit.Aggregation.SUM:
            return readings.aggregate(n=Sum("count"))["n"] or 0
        per_timestamp = readings.values("timestamp").annotate(n=Sum("count")).order_by()
        return max((row["n"] for row in per_timestamp), default=0)

    def meter_sums(self, *, tenant, start, end):
        readings = MeterReading.objects.filter(tenant=tenant, timestamp__gte=start, timestamp__lt=end)
        sums = readings.values("rp_id", "unit_id", "timestamp").annotate(n=Sum("count")).order_by()
        return [(row["rp_id"], row["unit_id"], row["n"]) for row in sums]


# priority of an event row in ClickHouse: the first accepted copy (lowest outbox id) has the highest priority.
PRIORITY_BASE = 1 << 63


def ch_instant(instant: datetime) -> str:
    """An aware instant as ClickHouse's DateTime64(6, 'UTC') text."""
    return instant.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S.%f")


class ClickHouseEventStore(EventStore):
    """Counts in ClickHouse (metering/clickhouse.py), fed from the PostgreSQL outbox by the shipping task."""

    name = "clickhouse"
    uses_outbox = True

    def __init__(self, url: str, cluster: str = ""):
        from . import clickhouse

        self.url = url
        self.cluster = cluster
        self.conn = clickhouse.connect(url)
        self.db = self.conn.database
        self._schema_ready = False

    # --- connection and schema ---

    def ensure_schema(self, *, create_on_cluster: bool = False) -> None:
        """CREATE … IF NOT EXISTS once per process. On a cluster only when asked (`manage.py event_store
        --schema`): distributed DDL from every process that starts would crowd the cluster's DDL queue."""
        if self._schema_ready:
            return
        if self.cluster and not create_on_cluster:
            self._schema_ready = True
            return
        from .clickhouse import schema_statements

        for statement in schema_statements(self.db, self.cluster):
            self.conn.command(statement)
        self._schema_ready = True

    def _query(self, sql: str, **params) -> list[list]:
        self.ensure_schema()
        return self.conn.query(sql.format(db=self.db), params)

    # --- writes (the shipping task, metering/event_outbox.py) ---

    def record_auth_events(self, *, tenant, ids, rps, users, instants):
        from .event_outbox import auth_events_enqueue

        accepted, earlier = auth_events_enqueue(
            tenant=tenant, ids=ids, rps=rps, users=users, instants=instants
        )
        return accepted, earlier, []  # MAU alerts: checked once the batch reached ClickHouse

    def insert(self, table: str, columns: dict[str, list]) -> None:
        self.ensure_schema()
        if columns and next(iter(columns.values())):
            self.conn.insert(table, columns)

    def forget_tenant(self, tenant_id: int) -> None:
        """Delete a tenant's rows (unsubscribe). Lightweight DELETE: the rows disappear from reads at once."""
        self.ensure_schema()
        on_cluster = f" ON CLUSTER {self.cluster}" if self.cluster else ""
        for table in ("auth_events", "meter_readings"):
            self.conn.command(
                f"DELETE FROM {self.db}.{table}{on_cluster} WHERE tenant_id = {{tenant:UInt64}}",  # noqa: S608
                {"tenant": tenant_id},
            )

    def truncate(self) -> None:
        """Empty every table (tests and benchmarks only)."""
        from .clickhouse import TABLES

        self.ensure_schema()
        for table in TABLES:
            self.conn.command(f"TRUNCATE TABLE {self.db}.{table}")

    # --- reads ---

    def mau(self, *, tenant, month, rp_id=""):
        rows = self._query(
            "SELECT uniqExact(user_id) FROM {db}.auth_events FINAL"  # noqa: S608 - parameters are bound by ClickHouse
            " WHERE tenant_id = {{tenant:UInt64}} AND month = {{month:Date}}"
            + (" AND rp_id = {{rp:String}}" if rp_id else ""),
            tenant=tenant.pk,
            month=month.isoformat(),
            rp=rp_id,
        )
        return int(rows[0][0]) if rows else 0

    def mau_by_rp(self, *, tenant, month):
        rows = self._query(
            "SELECT rp_id, uniqExact(user_id) FROM {db}.auth_events FINAL"
            " WHERE tenant_id = {{tenant:UInt64}} AND month = {{month:Date}} GROUP BY rp_id ORDER BY rp_id",
            tenant=tenant.pk,
            month=month.isoformat(),
        )
        return {rp: int(n) for rp, n in rows}

    def mau_months(self, *, tenant, first, last):
        rows = self._query(
            "SELECT month, rp_id, uniqExact(user_id), count() FROM {db}.auth_events FINAL"
            " WHERE tenant_id = {{tenant:UInt64}} AND month >= {{first:Date}} AND month <= {{last:Date}}"
            " GROUP BY GROUPING SETS ((month), (month, rp_id))",
            tenant=tenant.pk,
            first=first.isoformat(),
            last=last.isoformat(),
        )
        return {(date.fromisoformat(m), rp): (int(mau), int(events)) for m, rp, mau, events in rows}

    def mau_of_months(self, *, tenant, months):
        if not months:
            return {}
        rows = self._query(
            "SELECT month, uniqExact(user_id) FROM {db}.auth_events FINAL"
            " WHERE tenant_id = {{tenant:UInt64}} AND month >= {{first:Date}} AND month <= {{last:Date}}"
            " GROUP BY month",
            tenant=tenant.pk,
            first=min(months).isoformat(),
            last=max(months).isoformat(),
        )
        wanted = set(months)
        return {m: int(n) for m, n in ((date.fromisoformat(m), n) for m, n in rows) if m in wanted}

    def daily_actives(self, *, tenant, start, end):
        rows = self._query(
            "SELECT day, uniqExact(user_id) FROM {db}.auth_events FINAL"
            " WHERE tenant_id = {{tenant:UInt64}} AND day >= {{start:Date}} AND day <= {{end:Date}} GROUP BY day",
            tenant=tenant.pk,
            start=start.isoformat(),
            end=end.isoformat(),
        )
        return {date.fromisoformat(d): int(n) for d, n in rows}

    def mau_evidence(self, *, tenant, month):
        # Keyset pages by user id: each page is one GROUP BY over the month's de-duplicated rows (FINAL), and
        # min((occurred_at, rp_id)) picks the earliest event with PostgreSQL's tie-break (then the smallest RP).
        after = None
        while True:
            rows = self._query(
                "SELECT user_id, min((occurred_at, rp_id)) FROM {db}.auth_events FINAL"  # noqa: S608 - bound by ClickHouse
                " WHERE tenant_id = {{tenant:UInt64}} AND month = {{month:Date}}"
                + (" AND user_id > {{after:String}}" if after is not None else "")
                + " GROUP BY user_id ORDER BY user_id LIMIT {{limit:UInt32}}",
                tenant=tenant.pk,
                month=month.isoformat(),
                after=after or "",
                limit=EVIDENCE_CHUNK,
            )
            for user_id, (instant, rp_id) in rows:
                yield user_id, datetime.fromisoformat(instant).replace(tzinfo=UTC), rp_id
            if len(rows) < EVIDENCE_CHUNK:
                return
            after = rows[-1][0]

    _READINGS = (
        "FROM {db}.meter_readings FINAL WHERE tenant_id = {{tenant:UInt64}}"
        " AND timestamp >= {{start:DateTime64(6, 'UTC')}} AND timestamp < {{end:DateTime64(6, 'UTC')}}"
    )

    def meter_count(self, *, tenant, unit, start, end, rp_id=None):
        where = (
            self._READINGS
            + " AND unit_id = {{unit:UInt64}}"
            + (" AND rp_id = {{rp:String}}" if rp_id is not None else "")
        )
        if unit.aggregation == MeteringUnit.Aggregation.SUM:
            sql = "SELECT sum(count) " + where
        else:
            sql = "SELECT max(n) FROM (SELECT sum(count) AS n " + where + " GROUP BY timestamp)"  # noqa: S608
        rows = self._query(
            sql, tenant=tenant.pk, unit=unit.pk, rp=rp_id or "", start=ch_instant(start), end=ch_instant(end)
        )
        return int(rows[0][0] or 0) if rows else 0

    def meter_sums(self, *, tenant, start, end):
        rows = self._query(
            "SELECT rp_id, unit_id, sum(count) " + self._READINGS + " GROUP BY rp_id, unit_id, timestamp",
            tenant=tenant.pk,
            start=ch_instant(start),
            end=ch_instant(end),
        )
        return [(rp, int(unit), int(n)) for rp, unit, n in rows]


_current: tuple[str, EventStore] | None = None


def current() -> EventStore:
    """The event store EVENT_STORE_URL names (one per process; rebuilt when the setting changes, as in tests)."""
    global _current
    url = getattr(settings, "EVENT_STORE_URL", "") or "postgres"
    if _current is None or _current[0] != url:
        if url in ("postgres", "postgresql"):
            store: EventStore = PostgresEventStore()
        else:
            store = ClickHouseEventStore(url, cluster=getattr(settings, "EVENT_STORE_CLUSTER", ""))
        _current = (url, store)
    return _current[1]
