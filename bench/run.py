"""`make bench`: ingest throughput through the real HTTP endpoint vs PostgreSQL's raw COPY, and MAU read latency.

Starts PostgreSQL/Redis like `make test` (database `billing_portal_bench`), gunicorn on 127.0.0.1, creates
BENCH_TENANTS tenants with BENCH_USERS distinct users (Zipf-like: tenant 0 is the largest), then BENCH_CLIENTS
client processes post BENCH_EVENTS events in batches of BENCH_BATCH to POST /api/v1/tenants/<t>/auth-events
(every BENCH_REPLAY_EVERY-th request replays an earlier batch). Afterwards it checks the MAU counters against a
brute-force recount, COPYs the same events into an index-free table as the ceiling, and times MAU reads.

BENCH_EVENT_STORE=clickhouse runs it on both event stores and prints them side by side (bench/stores.py).

Full size: BENCH_TENANTS=100 BENCH_USERS=1000000 BENCH_EVENTS=10000000 (the defaults). Scale down with e.g.
BENCH_EVENTS=500000 BENCH_USERS=100000. Loopback only; every loop is bounded by the event count.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import devservices  # noqa: E402

TENANTS = int(os.environ.get("BENCH_TENANTS", "100"))
USERS = int(os.environ.get("BENCH_USERS", "1000000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "10000000"))
BATCH = int(os.environ.get("BENCH_BATCH", "5000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "6"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 2) + 1)))
REPLAY_EVERY = int(os.environ.get("BENCH_REPLAY_EVERY", "50"))
RPS = ["login.example.com", "shop.example.com", "app.example.com"]
SLUG = "bench-{:03d}"


def user_ranges() -> list[tuple[int, int]]:
    """Distinct users per tenant, Zipf-like (weight 1/(i+1)), every tenant at least one: [(first, count)]."""
    weights = [1 / (i + 1) for i in range(TENANTS)]
    total = sum(weights)
    counts = [max(1, int(USERS * w / total)) for w in weights]
    counts[0] += USERS - sum(counts)
    ranges, first = [], 0
    for c in counts:
        ranges.append((first, c))
        first += c
    return ranges


def batch_events(request_no: int, ranges, start: datetime) -> tuple[int, list[tuple[str, str, str, str]]]:
    """The request's tenant and events (id, rp, user, ISO time); deterministic from the request number."""
    if REPLAY_EVERY and request_no % REPLAY_EVERY == REPLAY_EVERY - 1:
        request_no -= REPLAY_EVERY // 2  # a replay of an earlier request: all duplicates
    rng = random.Random(request_no)  # noqa: S311 - load generation
    tenant = rng.choices(range(TENANTS), weights=[c for _, c in ranges])[0]
    first, count = ranges[tenant]
    span = int((datetime.now(UTC) - start).total_seconds()) - 60
    events = [
        (
            f"r{request_no}-{i}",
            RPS[rng.randrange(3)],
            f"user-{first + rng.randrange(count)}",
            (start + timedelta(seconds=rng.randrange(span))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        for i in range(BATCH)
    ]
    return tenant, events


def body_of(events) -> bytes:
    return (
        '{"events":['
        + ",".join(f'{{"id":"{e}","rp":"{r}","user_id":"{u}","occurred_at":"{t}"}}' for e, r, u, t in events)
        + "]}"
    ).encode()


def client(worker: int, port: int, key: str, ranges, start: datetime, requests: int, out: mp.Queue):
    latencies, accepted, duplicates, errors = [], 0, 0, 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for request_no in range(worker, requests, CLIENTS):
        tenant, events = batch_events(request_no, ranges, start)
        body = body_of(events)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        t0 = time.perf_counter()
        try:
            conn.request("POST", f"/api/v1/tenants/{SLUG.format(tenant)}/auth-events", body, headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            errors += 1
            continue
        latencies.append(time.perf_counter() - t0)
        if response.status != 200:
            errors += 1
            print(f"  HTTP {response.status}: {payload[:300]!r}", flush=True)
            continue
        result = json.loads(payload)
        accepted += result["accepted"]
        duplicates += result["duplicates"]
    used = os.times()
    out.put((latencies, accepted, duplicates, errors, used.user + used.system))


def cpu_seconds() -> dict:
    """CPU seconds used so far (user + system) by this machine's processes, grouped: the bench database's
    PostgreSQL backends, our gunicorn, the load-generating clients, everything else (other work sharing the box)."""
    tick = os.sysconf("SC_CLK_TCK")
    # The path of the URL, not its last slash: the embedded server's URL ends in ?host=/path/to/socket-dir.
    database = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/") or "billing_portal_bench"
    groups = {"postgres": 0.0, "gunicorn": 0.0, "clients": 0.0, "other": 0.0}
    me = os.getpid()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        if cmd.startswith("postgres:") and database in cmd:
            group = "postgres"
        elif "gunicorn" in cmd and "billing_portal.wsgi" in cmd and str(ROOT) in cmd:
            group = "gunicorn"
        elif int(pid) == me or "bench/run.py" in cmd:
            group = "clients"  # replaced by the clients' own figures (they have exited when this is read)
        else:
            group = "other"
        groups[group] += used
    with open("/proc/stat") as f:  # the whole machine, including processes that exit meanwhile
        user, nice, system = (int(x) for x in f.readline().split()[1:4])
    groups["machine"] = (user + nice + system) / tick
    return groups


def setup_django(env):
    os.environ.update(env)
    import django

    django.setup()


def prepare(start):
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import ApiKey, RelyingParty, Tenant, hash_api_key
    from accounts.services import tenant_create

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE metering_authevent, metering_autheventkey, metering_maufirstseen, metering_maurpfirstseen, metering_maucounter,"
            " metering_dailyactivefirstseen, metering_dailyactivecounter"
        )
    from django.contrib.auth import get_user_model

    owner, _ = get_user_model().objects.get_or_create(email="bench-owner@bench.invalid")
    for i in range(TENANTS):
        tenant = Tenant.objects.filter(slug=SLUG.format(i)).first() or tenant_create(
            owner=owner, name=f"Bench tenant {i}", slug=SLUG.format(i)
        )
        for rp in RPS:
            RelyingParty.objects.get_or_create(tenant=tenant, rp_id=rp)
    raw = ApiKey.generate_raw_key()
    ApiKey.objects.create(
        name="bench", scope=ApiKey.Scope.PLATFORM, prefix=raw[:11], key_hash=hash_api_key(raw)
    )
    return raw


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def copy_ceiling(ranges, start, requests) -> tuple[float, int]:
    """COPY the same events into an index-free table: seconds from the first byte until the server has stored
    the last row (the data is written to a file first so generating it is not timed), and the row count."""
    from django.db import connection

    from accounts.models import Tenant

    ids = dict(Tenant.objects.filter(slug__startswith="bench-").values_list("slug", "pk"))
    path = ROOT / ".var" / "bench-copy.tsv"
    rows = 0
    with open(path, "wb") as out:
        for request_no in range(requests):
            tenant, events = batch_events(request_no, ranges, start)
            tid = ids[SLUG.format(tenant)]
            out.write("".join(f"{tid}\t{e}\t{r}\t{u}\t{t}\n" for e, r, u, t in events).encode())
            rows += len(events)
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_copy_ceiling")
            cursor.execute(
                "CREATE TABLE bench_copy_ceiling (tenant_id bigint, event_id text, rp_id text, user_id text,"
                " occurred_at timestamptz)"
            )
            t0 = time.perf_counter()
            with open(path, "rb") as data, cursor.cursor.copy("COPY bench_copy_ceiling FROM STDIN") as copy:
                while block := data.read(1 << 20):
                    copy.write(block)
            cursor.execute("SELECT count(*) FROM bench_copy_ceiling")  # the server has finished the COPY
            stored = cursor.fetchone()[0]
            spent = time.perf_counter() - t0
            cursor.execute("DROP TABLE bench_copy_ceiling")
    finally:
        path.unlink(missing_ok=True)
    assert stored == rows, (stored, rows)
    return spent, rows


def check_exact() -> tuple[bool, int]:
    """Counters vs a brute-force recount over the stored raw events (tenant totals and per RP)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            WITH recount AS (
                SELECT tenant_id, month, '' AS rp_id, count(DISTINCT user_id) AS mau FROM metering_authevent
                GROUP BY tenant_id, month
                UNION ALL
                SELECT tenant_id, month, rp_id, count(DISTINCT user_id) FROM metering_authevent
                GROUP BY tenant_id, month, rp_id
            )
            SELECT count(*) FILTER (WHERE c.mau IS DISTINCT FROM r.mau), count(*)
            FROM recount r FULL JOIN metering_maucounter c USING (tenant_id, month, rp_id)
        """)
        mismatches, rows = cursor.fetchone()
        cursor.execute("""
            WITH recount AS (
                SELECT e.tenant_id, (e.occurred_at AT TIME ZONE t.time_zone)::date AS day,
                       count(DISTINCT e.user_id) AS dau
                FROM metering_authevent e JOIN accounts_tenant t ON t.id = e.tenant_id GROUP BY 1, 2
            )
            SELECT count(*) FILTER (WHERE c.dau IS DISTINCT FROM r.dau), count(*)
            FROM recount r FULL JOIN metering_dailyactivecounter c USING (tenant_id, day)
        """)
        day_mismatches, day_rows = cursor.fetchone()
    return mismatches == 0 and day_mismatches == 0, rows + day_rows


def mau_read_latency(iterations=2000):
    from accounts.models import Tenant
    from billing_portal.common import clock
    from metering.selectors import mau_count

    tenant = Tenant.objects.get(slug=SLUG.format(0))
    year, month = clock.month_of(clock.now(), tenant.time_zone)
    mau_count(tenant=tenant, year=year, month=month)
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        mau = mau_count(tenant=tenant, year=year, month=month)
        times.append(time.perf_counter() - t0)
    return mau, times


def main() -> int:
    if os.environ.get("BENCH_EVENT_STORE", "postgres") == "clickhouse":
        import stores  # bench/stores.py: this benchmark on both event stores, side by side

        return stores.main()
    env = {
        "DATABASE_URL": devservices.ensure_postgres("billing_portal_bench"),
        "REDIS_URL": devservices.ensure_redis(),
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings.production",
        "DJANGO_SECRET_KEY": "bench-only-not-secret",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_CONN_MAX_AGE": "600",
    }
    setup_django(env)
    # Events fall in the last ~40 days: this month and the one before (month boundaries included).
    start = datetime.now(UTC) - timedelta(days=40)
    key = prepare(start)
    requests = max(1, EVENTS // BATCH)
    ranges = user_ranges()
    print(
        f"bench: {TENANTS} tenants, {USERS:,} distinct users, {requests * BATCH:,} events in {requests:,} requests "
        f"of {BATCH:,}; {CLIENTS} clients, {WORKERS} gunicorn workers, {os.cpu_count()} CPUs",
        flush=True,
    )

    port = devservices.free_port()
    log = open(ROOT / ".var" / "bench-gunicorn.log", "w")  # noqa: SIM115
    server = devservices.spawn(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "billing_portal.wsgi",
            "-w",
            str(WORKERS),
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
        mp.Process(target=client, args=(w, port, key, ranges, start, requests, out)) for w in range(CLIENTS)
    ]
    cpu_before = cpu_seconds()
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t0
    cpu_after = cpu_seconds()
    cpu = {group: cpu_after[group] - cpu_before[group] for group in cpu_after}
    cpu["clients"] = sum(r[4] for r in results)  # they have exited by now: each reports its own
    cpu["other"] = max(0.0, cpu["machine"] - cpu["postgres"] - cpu["gunicorn"] - cpu["clients"])
    for p in procs:
        p.join()
    server.terminate()
    server.wait(30)

    latencies = [x for r in results for x in r[0]]
    accepted = sum(r[1] for r in results)
    duplicates = sum(r[2] for r in results)
    errors = sum(r[3] for r in results)
    sent = accepted + duplicates
    rate = sent / wall
    exact, counter_rows = check_exact()
    copy_seconds, copy_rows = copy_ceiling(ranges, start, requests)
    copy_rate = copy_rows / copy_seconds
    mau, reads = mau_read_latency()

    print("\n=== ingest through POST /api/v1/tenants/<t>/auth-events (gunicorn, loopback) ===")
    print(
        f"events sent        {sent:,} ({accepted:,} new, {duplicates:,} duplicates/replays), errors {errors}"
    )
    print(f"wall time          {wall:.1f} s")
    print(f"throughput         {rate:,.0f} events/s  ({len(latencies) / wall:.1f} requests/s)")
    if latencies:
        print(
            f"request latency    p50 {percentile(latencies, 50) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms "
            f"(batch of {BATCH:,})"
        )
    print(
        f"CPU during ingest  PostgreSQL {cpu['postgres']:.1f} s, gunicorn {cpu['gunicorn']:.1f} s, "
        f"clients {cpu['clients']:.1f} s, other work on the machine {cpu['other']:.1f} s "
        f"(of {wall * (os.cpu_count() or 1):.1f} CPU-seconds); load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"  per event        PostgreSQL {cpu['postgres'] / max(1, sent) * 1e6:.1f} µs, "
        f"gunicorn {cpu['gunicorn'] / max(1, sent) * 1e6:.1f} µs"
    )
    print(
        f"exact MAU          {'yes' if exact else 'NO'}: MAU and daily-active counters = brute-force recount over {counter_rows:,} tenant/RP-months and tenant-days"
    )
    print("\n=== ceiling: PostgreSQL COPY of the same events into an index-free table ===")
    print(f"COPY rate          {copy_rate:,.0f} rows/s ({copy_rows:,} rows in {copy_seconds:.1f} s)")
    print(f"ratio              HTTP ingest = {rate / copy_rate:.1%} of raw COPY")
    p99 = percentile(latencies, 99) if latencies else float("inf")
    print("\n=== goal (full size, quiet machine): ≥ 60,000 events/s, p99 < 1 s per 5,000-event request ===")
    print(
        f"this run           {rate:,.0f} events/s ({'met' if rate >= 60_000 else 'NOT met'}), "
        f"p99 {p99 * 1000:,.0f} ms ({'met' if p99 < 1 else 'NOT met'}), ratio to COPY {rate / copy_rate:.1%}"
        f"{'' if (TENANTS, USERS, EVENTS) == (100, 1_000_000, 10_000_000) else ' — reduced size, not the goal run'}"
    )
    print("\n=== MAU read for the largest tenant (bench-000, this month) ===")
    print(
        f"MAU {mau:,}; read p50 {statistics.median(reads) * 1000:.3f} ms, p99 {percentile(reads, 99) * 1000:.3f} ms "
        f"over {len(reads)} reads"
    )
    return 0 if exact and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
