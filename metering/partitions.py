"""Monthly partitions of the raw authentication events (PostgreSQL event store).

`metering_authevent` is declaratively partitioned: PARTITION BY RANGE (occurred_at), one partition per calendar
month in UTC, named `metering_authevent_yYYYYmMM` ([first instant of the month, first instant of the next)).
PostgreSQL requires the partition key in every unique constraint, so idempotency by event id lives in the small
table `metering_autheventkey` (tenant, event id), written by the same ingest statement (services._ingest_sql).

- The beat task `metering.tasks.event_partitions_tick` (hourly) and every `migrate` create this month's partition
  and the next two (`partitions_ensure`), and drop the partitions older than
  `METERING_RAW_EVENTS_RETENTION_MONTHS` (default 13) together with their event-id keys (`partitions_drop_expired`).
- An event whose month has no partition (an event years old, a test clock far ahead) does not fail: the ingest
  creates the missing partitions and retries once (`partitions_for_instants`). No DEFAULT partition: rows in it
  would block creating the month's partition later and would never be dropped by retention.
- Dropping raw events never changes MAU: the first-seen tables and counters (MauFirstSeen, MauRpFirstSeen,
  DailyActiveFirstSeen, MauCounter, DailyActiveCounter) are the billing evidence and are never dropped. What is
  lost with a partition is idempotency by event id for that month: an event replayed after its month was dropped
  is accepted again (its user is already counted, so MAU stays the same; the month's event count grows).
- `pg_partman` is not used (not installed here); where it is installed, this module still manages the partitions
  by itself (same names), so nothing depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.conf import settings
from django.db import connection, transaction

from billing_portal.common import clock

PARENT = "metering_authevent"
KEYS = "metering_autheventkey"
AHEAD = 2  # months created ahead of the current one
_LOCK_KEY = 7_202_611  # pg_advisory_xact_lock: one partition DDL at a time


def partition_name(year: int, month: int) -> str:
    return f"{PARENT}_y{year:04d}m{month:02d}"


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def _bounds(year: int, month: int) -> tuple[datetime, datetime]:
    ny, nm = _add_months(year, month, 1)
    return datetime(year, month, 1, tzinfo=UTC), datetime(ny, nm, 1, tzinfo=UTC)


def _existing_names(cursor) -> set[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
        [PARENT],
    )
    return {row[0] for row in cursor.fetchall()}


def partitions_create(months) -> list[str]:
    """Create the partitions of these (year, month) pairs that do not exist yet; returns the names created.
    Serialised by an advisory lock, so concurrent requests and the beat task cannot race on the same DDL."""
    wanted = sorted(set(months))
    if not wanted:
        return []
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        existing = _existing_names(cursor)
        for year, month in wanted:
            name = partition_name(year, month)
            if name in existing:
                continue
            start, end = _bounds(year, month)
            cursor.execute(
                f"CREATE TABLE {name} PARTITION OF {PARENT} "  # noqa: S608 - name is built from two integers
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
            created.append(name)
    return created


def partitions_ensure(*, now: datetime | None = None, ahead: int = AHEAD) -> list[str]:
    """This month's partition (UTC) and the next `ahead` months'."""
    now = (now or clock.system_now()).astimezone(UTC)
    return partitions_create(_add_months(now.year, now.month, n) for n in range(ahead + 1))


def partitions_for_instants(instants) -> list[str]:
    """The ingest's fallback when a row found no partition: create the months of these instants."""
    months = set()
    for instant in instants:
        utc = instant.astimezone(UTC)
        months.add((utc.year, utc.month))
    return partitions_create(months)


def is_missing_partition(exc: BaseException) -> bool:
    """True for PostgreSQL's "no partition of relation … found for row" (SQLSTATE 23514) on the events table."""
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) == "23514" and "no partition of relation" in str(cause)


def retention_months() -> int:
    return int(getattr(settings, "METERING_RAW_EVENTS_RETENTION_MONTHS", 13))


def oldest_kept_month(*, now: datetime | None = None, retention: int | None = None) -> date:
    """The first month (UTC) whose raw events are kept: the current month and the `retention` months before it."""
    now = (now or clock.system_now()).astimezone(UTC)
    year, month = _add_months(
        now.year, now.month, -(retention if retention is not None else retention_months())
    )
    return date(year, month, 1)


@dataclass(frozen=True)
class Partition:
    name: str
    month: date
    start: datetime
    end: datetime
    rows_estimate: int
    bytes: int


def partitions_list() -> list[Partition]:
    """The events table's partitions, oldest first, with PostgreSQL's row estimate (pg_class.reltuples, from the
    last ANALYZE or autovacuum: -1 → 0 before the first one) and size on disk."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid)"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s ORDER BY c.relname",
            [PARENT],
        )
        rows = cursor.fetchall()
    result = []
    for name, estimate, size in rows:
        suffix = name[len(PARENT) + 2 :]  # "YYYYmMM"
        try:
            year, month = int(suffix[:4]), int(suffix[5:7])
        except ValueError:
            continue  # not one of ours
        start, end = _bounds(year, month)
        result.append(Partition(name, date(year, month, 1), start, end, int(estimate), int(size)))
    return result


def partitions_drop_expired(*, now: datetime | None = None, retention: int | None = None) -> list[str]:
    """Drop the partitions of months before `oldest_kept_month`, and the event-id keys of their events, each
    month in one transaction. MAU is untouched: the first-seen tables and counters are not partitioned."""
    cutoff = oldest_kept_month(now=now, retention=retention)
    dropped = []
    for partition in partitions_list():
        if partition.month >= cutoff:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            cursor.execute(
                f"DELETE FROM {KEYS} WHERE occurred_at >= %s AND occurred_at < %s",  # noqa: S608
                [partition.start, partition.end],
            )
            # Deferred foreign-key checks of rows written earlier in this transaction (only when the caller's
            # transaction wrote events, as a test does) would block the DROP: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"DROP TABLE IF EXISTS {partition.name}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        dropped.append(partition.name)
    return dropped


def partitions_maintain(*, now: datetime | None = None) -> dict:
    """What the beat task does: create the coming months, drop the expired ones."""
    return {"created": partitions_ensure(now=now), "dropped": partitions_drop_expired(now=now)}
