"""`make bench BENCH_EVENT_STORE=clickhouse`: the ingest benchmark (bench/run.py) on both event stores, side by side.

The same events (deterministic per request number) go through POST /api/v1/tenants/<t>/auth-events twice:
1. EVENT_STORE_URL=postgres — today's path (first-seen tables and counters in the request), with run.py's
   brute-force exactness check and its COPY ceiling;
2. EVENT_STORE_URL=chdb://.var/bench-chdb — the ClickHouse store: the requests only append to the PostgreSQL
   outbox; then this process ships the whole backlog to ClickHouse (in-process chdb, the engine of a ClickHouse
   server, one node) and times it; the ingest and the shipping are timed apart (in production the beat task
   ships while requests come in).
Then MAU reads for the largest tenant on each store, and every tenant-month, tenant-RP-month and tenant-day count
of ClickHouse compared with PostgreSQL's counters. Sizes: BENCH_EVENTS, BENCH_USERS, BENCH_TENANTS, … as run.py.
"""

from __future__ import annotations

import http.client
import importlib.util
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# bench/run.py (the load generator, the tenants, the exactness check and the COPY ceiling), by path: `run` on
# sys.path is scripts/run.py.
_spec = importlib.util.spec_from_file_location("bench_run", Path(__file__).with_name("run.py"))
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)
ROOT, devservices, percentile = run.ROOT, run.devservices, run.percentile


class _Frozen(datetime):
    """run.batch_events spreads events up to "now": both stores get the same instants (clients are forked)."""

    frozen = datetime.now(UTC)

    @classmethod
    def now(cls, tz=None):
        return cls.frozen if tz is None else cls.frozen.astimezone(tz)


run.datetime = _Frozen


def ingest(env, key, ranges, start, requests) -> dict:
    """Start gunicorn with `env`, post every request from CLIENTS processes, stop it; the figures."""
    port = devservices.free_port()
    log = open(ROOT / ".var" / f"bench-gunicorn-{env['EVENT_STORE_URL'].split(':')[0]}.log", "w")  # noqa: SIM115
    server = devservices.spawn(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "billing_portal.wsgi",
            "-w",
            str(run.WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--threads",
            "1",
            "--keep-alive",
            "30",
            "--timeout",
            "120",
            "--preload",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/readyz")
            break
        except OSError:
            time.sleep(0.2)
    time.sleep(1)
    out = mp.Queue()
    procs = [
        mp.Process(target=run.client, args=(w, port, key, ranges, start, requests, out))
        for w in range(run.CLIENTS)
    ]
    cpu_before = run.cpu_seconds()
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t0
    cpu_after = run.cpu_seconds()
    for p in procs:
        p.join()
    server.terminate()
    server.wait(30)
    latencies = [x for r in results for x in r[0]]
    accepted, duplicates, errors = (sum(r[i] for r in results) for i in (1, 2, 3))
    sent = accepted + duplicates
    return {
        "sent": sent,
        "accepted": accepted,
        "duplicates": duplicates,
        "errors": errors,
        "wall": wall,
        "rate": sent / wall,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "cpu_postgres": cpu_after["postgres"] - cpu_before["postgres"],
        "cpu_gunicorn": cpu_after["gunicorn"] - cpu_before["gunicorn"],
    }


def mau_reads(iterations: int) -> tuple[int, list[float]]:
    from accounts.models import Tenant
    from billing_portal.common import clock
    from metering.selectors import mau_count

    tenant = Tenant.objects.get(slug=run.SLUG.format(0))
    year, month = clock.month_of(clock.now(), tenant.time_zone)
    mau = mau_count(tenant=tenant, year=year, month=month)
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        mau_count(tenant=tenant, year=year, month=month)
        times.append(time.perf_counter() - t0)
    return mau, times


def all_counts(start: datetime) -> dict:
    """Every tenant's MAU and events per month and RP, and daily actives, as the current event store counts them."""
    from accounts.models import Tenant
    from metering import event_store

    store = event_store.current()
    first = date(start.year, start.month, 1)
    last = datetime.now(UTC).date() + timedelta(days=31)
    counts = {}
    for tenant in Tenant.objects.filter(slug__startswith="bench-").order_by("slug"):
        counts[tenant.slug] = (
            store.mau_months(tenant=tenant, first=first, last=last),
            store.daily_actives(tenant=tenant, start=start.date() - timedelta(days=1), end=last),
        )
    return counts


def main() -> int:
    chdb_dir = ROOT / ".var" / "bench-chdb"
    shutil.rmtree(chdb_dir, ignore_errors=True)
    chdb_url = f"chdb://{chdb_dir}?database=bench"
    env = {
        "DATABASE_URL": devservices.ensure_postgres("billing_portal_bench"),
        "REDIS_URL": devservices.ensure_redis(),
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings.production",
        "DJANGO_SECRET_KEY": "bench-only-not-secret",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_CONN_MAX_AGE": "600",
        "EVENT_STORE_URL": "postgres",
    }
    run.setup_django(env)
    from django.conf import settings
    from django.db import connection

    from metering import event_store
    from metering.event_outbox import events_ship_all

    start = datetime.now(UTC) - timedelta(days=40)
    key = run.prepare(start)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE metering_eventoutbox")
    requests = max(1, run.EVENTS // run.BATCH)
    ranges = run.user_ranges()
    print(
        f"bench (both event stores): {run.TENANTS} tenants, {run.USERS:,} distinct users, "
        f"{requests * run.BATCH:,} events in {requests:,} requests of {run.BATCH:,}; {run.CLIENTS} clients, "
        f"{run.WORKERS} gunicorn workers, {os.cpu_count()} CPUs",
        flush=True,
    )

    print("PostgreSQL store: ingest …", flush=True)
    pg = ingest(env, key, ranges, start, requests)
    exact_pg, counter_rows = run.check_exact()
    copy_seconds, copy_rows = run.copy_ceiling(ranges, start, requests)
    pg_mau, pg_reads = mau_reads(2000)
    pg_counts = all_counts(start)

    print("ClickHouse store: ingest into the outbox …", flush=True)
    settings.EVENT_STORE_URL = chdb_url
    store = event_store.current()
    store.truncate()
    ch = ingest({**env, "EVENT_STORE_URL": chdb_url}, key, ranges, start, requests)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(events), 0), pg_total_relation_size('metering_eventoutbox')"
            " FROM metering_eventoutbox"
        )
        outbox_rows, outbox_events, outbox_bytes = cursor.fetchone()
    print(f"ClickHouse store: shipping {outbox_events:,} events in {outbox_rows:,} outbox rows …", flush=True)
    t0 = time.perf_counter()
    shipped = events_ship_all(max_rounds=100_000)
    ship_seconds = time.perf_counter() - t0
    ch_mau, ch_reads = mau_reads(300)
    ch_counts = all_counts(start)
    raw_rows = store.conn.query("SELECT count() FROM bench.auth_events")[0][0]
    unique_rows = store.conn.query("SELECT count() FROM bench.auth_events FINAL")[0][0]

    mismatches = []
    for slug, (months, days) in pg_counts.items():
        ch_months, ch_days = ch_counts.get(slug, ({}, {}))
        if months != ch_months:
            mismatches.append(f"{slug} months")
        if {d: n for d, n in days.items() if n} != {d: n for d, n in ch_days.items() if n}:
            mismatches.append(f"{slug} days")
    compared = sum(len(m) + len(d) for m, d in pg_counts.values())

    def row(label, a, b):
        print(f"{label:<34}{a:>26} {b:>30}")

    print(
        "\n=== event stores side by side (the same events through POST /api/v1/tenants/<t>/auth-events) ==="
    )
    row("", "PostgreSQL", "ClickHouse (chdb, 1 node)")
    row("events sent", f"{pg['sent']:,}", f"{ch['sent']:,}")
    row(
        "answered accepted / duplicates",
        f"{pg['accepted']:,} / {pg['duplicates']:,}",
        f"{ch['accepted']:,} / {ch['duplicates']:,}",
    )
    row("HTTP errors", str(pg["errors"]), str(ch["errors"]))
    row(
        "ingest through the endpoint",
        f"{pg['rate']:,.0f} events/s",
        f"{ch['rate']:,.0f} events/s (to outbox)",
    )
    row(
        "request latency p50 / p99",
        f"{pg['p50'] * 1000:,.0f} / {pg['p99'] * 1000:,.0f} ms",
        f"{ch['p50'] * 1000:,.0f} / {ch['p99'] * 1000:,.0f} ms",
    )
    row(
        "CPU: PostgreSQL / gunicorn",
        f"{pg['cpu_postgres']:.1f} / {pg['cpu_gunicorn']:.1f} s",
        f"{ch['cpu_postgres']:.1f} / {ch['cpu_gunicorn']:.1f} s",
    )
    row(
        "ratio to PostgreSQL COPY",
        f"{pg['rate'] / (copy_rows / copy_seconds):.1%}",
        f"{ch['rate'] / (copy_rows / copy_seconds):.1%}",
    )
    row("outbox after ingest", "—", f"{outbox_rows:,} rows, {outbox_bytes / 1e6:,.1f} MB")
    row(
        "shipping outbox → ClickHouse",
        "— (counted in the request)",
        f"{shipped['events'] / ship_seconds:,.0f} events/s ({ship_seconds:.1f} s)",
    )
    row("rows stored / distinct events", "—", f"{raw_rows:,} / {unique_rows:,}")
    row(
        "MAU read, largest tenant p50",
        f"{statistics.median(pg_reads) * 1000:.3f} ms",
        f"{statistics.median(ch_reads) * 1000:.3f} ms",
    )
    row(
        "MAU read p99",
        f"{percentile(pg_reads, 99) * 1000:.3f} ms",
        f"{percentile(ch_reads, 99) * 1000:.3f} ms",
    )
    row("MAU of bench-000 this month", f"{pg_mau:,}", f"{ch_mau:,}")
    row(
        "exact",
        "yes" if exact_pg else "NO (vs brute-force recount)",
        "yes" if not mismatches else f"NO: {', '.join(mismatches[:5])}",
    )
    print(
        f"(PostgreSQL: counters = brute-force recount over {counter_rows:,} rows; ClickHouse = PostgreSQL's counters "
        f"for all {compared:,} tenant-month, tenant-RP-month and tenant-day figures; COPY: {copy_rows / copy_seconds:,.0f} "
        f"rows/s. The box is shared: {os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.2f}.)"
    )
    ok = exact_pg and not mismatches and not pg["errors"] and not ch["errors"] and pg_mau == ch_mau
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
