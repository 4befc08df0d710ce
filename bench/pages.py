"""`make bench` (pages): the billing dashboard, billing information page and MAU chart page under load.

Seeds the demo data (`seed_demo`, as `make run`: tenant `gamma` on a paid license with a card, RPs, usage, a MAU
history), adds BENCH_PAGES_MAU_USERS users' authentication events over the last 12 months and BENCH_PAGES_USERS
(8) signed-in members of `gamma`, starts gunicorn the way `make run` does (scripts/run.py `web_command`: gthread,
production settings, whitenoise) on a free loopback port, signs every user in through the real sign-in form
(CSRF token and cookies, http.client), then for BENCH_PAGES_SECONDS (30) each user's own client process requests
the three pages in turn, back to back, on one keep-alive connection. Prints p50/p95/p99 per page, requests/s and
the CPU seconds gunicorn and PostgreSQL used. The machine may be shared with other work: the load average is
printed with the figures.
"""

from __future__ import annotations

import html
import http.client
import multiprocessing as mp
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import devservices  # noqa: E402

SECONDS = float(os.environ.get("BENCH_PAGES_SECONDS", "30"))
USERS = int(os.environ.get("BENCH_PAGES_USERS", "8"))
MAU_USERS = int(os.environ.get("BENCH_PAGES_MAU_USERS", "20000"))
WORKERS = int(os.environ.get("BENCH_PAGES_WORKERS", "2"))  # scripts/run.py's default for `make run`
PASSWORD = "bench-pages-2026"  # noqa: S105 - bench users on loopback only
TENANT = "gamma"
PAGES = {
    "billing dashboard": f"/t/{TENANT}/dashboard/",
    "billing information": f"/t/{TENANT}/billing/",
    "MAU chart": f"/t/{TENANT}/customer/",
}
GOAL_P95_MS = 50


def seed_extra(env) -> list[str]:
    """Bench members of gamma and a year of authentication events (idempotent); returns the e-mails."""
    os.environ.update(env)
    import django

    django.setup()
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, RelyingParty, Role, Tenant
    from metering.models import AuthEventKey
    from metering.services import auth_events_ingest

    tenant = Tenant.objects.get(slug=TENANT)
    roles = [Role.OWNER, Role.BILLING_ADMIN, Role.MANAGER]
    emails = []
    User = get_user_model()
    for i in range(USERS):
        email = f"bench-pages-{i}@bench.invalid"
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=PASSWORD, name=f"Bench {i}")
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )  # production settings make e-mail verification mandatory at sign-in
        Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": roles[i % len(roles)]})
        emails.append(email)
    if not AuthEventKey.objects.filter(tenant=tenant, event_id__startswith="bench-pages-").exists():
        rps = list(RelyingParty.objects.filter(tenant=tenant).values_list("rp_id", flat=True))
        now = datetime.now(UTC)
        batch = []
        for n in range(MAU_USERS * 3):
            when = now - timedelta(seconds=(n * 7919) % (360 * 86400) + 60)
            batch.append(
                {
                    "id": f"bench-pages-{n}",
                    "rp": rps[n % len(rps)],
                    "user_id": f"bench-user-{(n * 31) % MAU_USERS}",
                    "occurred_at": when.isoformat(),
                }
            )
            if len(batch) == 5000:
                auth_events_ingest(tenant=tenant, events=batch)
                batch = []
        if batch:
            auth_events_ingest(tenant=tenant, events=batch)
    return emails


def fresh_database(url: str) -> str:
    """A new, empty database `<name>_pages` next to the given one: the Stripe stand-in keeps its customers in
    memory only, so the demo's payment accounts must be created again with each run's stand-in."""
    import psycopg

    base, _, name = url.rpartition("/")
    name = name.split("?")[0] + "_pages"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


class Session:
    """One signed-in browser: a keep-alive connection and its cookies (sent whatever their Secure flag: loopback)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
        payload = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, dict(response.getheaders()), payload

    def sign_in(self, email: str) -> None:
        for _attempt in range(6):
            if self._sign_in(email):
                return
            print(f"  sign-in of {email}: rate-limited (429), retrying in 15 s", flush=True)
            time.sleep(15)
        raise SystemExit(f"sign-in of {email}: still rate-limited")

    def _sign_in(self, email: str) -> bool:
        status, _, page = self.request("GET", "/accounts/login/")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not match:
            raise SystemExit(f"sign-in page: HTTP {status}")
        body = urlencode(
            {
                "csrfmiddlewaretoken": html.unescape(match.group(1).decode()),
                "login": email,
                "password": PASSWORD,
            }
        ).encode()
        status, headers, page = self.request(
            "POST",
            "/accounts/login/",
            body,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://127.0.0.1:{self.port}/accounts/login/",
            },
        )
        if os.environ.get("BENCH_PAGES_DEBUG"):
            print(status, headers.get("Location"), self.cookies, flush=True)
        if status == 429:
            return False
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"sign-in of {email}: HTTP {status} {page[:300]!r}")
        return True


def client(index: int, cookies: dict, port: int, deadline_in: float, start_barrier, out: mp.Queue):
    session = Session(port)
    session.cookies = dict(cookies)
    for path in PAGES.values():  # warm up: each worker thread's first request of a page
        session.request("GET", path)
    start_barrier.wait()
    latencies = {name: [] for name in PAGES}
    errors = 0
    names = list(PAGES)
    deadline = time.perf_counter() + deadline_in
    n = index  # users start on different pages
    while time.perf_counter() < deadline:
        name = names[n % len(names)]
        n += 1
        t0 = time.perf_counter()
        status, headers, _ = session.request("GET", PAGES[name])
        elapsed = time.perf_counter() - t0
        if status != 200:
            errors += 1
            if errors <= 2:
                print(f"  {PAGES[name]}: HTTP {status} {headers.get('Location', '')}", flush=True)
            continue
        latencies[name].append(elapsed)
    out.put((latencies, errors))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    from run import cpu_seconds  # bench/run.py: CPU seconds per process group
    from scripts_run import web_command

    env = {
        **devservices.service_environment("billing_portal_bench"),
        "DATABASE_URL": fresh_database(devservices.ensure_postgres("billing_portal_bench")),
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings.production",
        "DJANGO_SECRET_KEY": "bench-only-not-secret",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_CONN_MAX_AGE": "600",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",  # the demo's e-mails go nowhere
    }
    full_env = {**os.environ, **env}
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (
        ["migrate", "--noinput", "-v", "0"],
        ["seed_demo"],
        ["collectstatic", "--noinput", "-v", "0"],
    ):
        subprocess.run([*manage, *command], env=full_env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603
    emails = seed_extra(env)

    port = devservices.free_port()
    (ROOT / ".var").mkdir(exist_ok=True)
    log = open(ROOT / ".var" / "bench-pages-gunicorn.log", "w")  # noqa: SIM115
    command = [arg for arg in web_command(sys.executable, port, workers=WORKERS)]
    server = devservices.spawn(command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(150):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.2)

    print(
        f"\n=== pages under load: {USERS} signed-in users, {SECONDS:g} s, gunicorn {WORKERS} workers × 4 threads "
        f"(gthread, as `make run`), {os.cpu_count()} CPUs ===",
        flush=True,
    )
    signed_in = []
    for email in emails:  # one after the other: allauth rate-limits sign-ins per address
        session = Session(port)
        session.sign_in(email)
        signed_in.append(session.cookies)
        session.conn.close()
    out = mp.Queue()
    barrier = mp.Barrier(USERS + 1)
    procs = [
        mp.Process(target=client, args=(i, signed_in[i], port, SECONDS, barrier, out)) for i in range(USERS)
    ]
    for p in procs:
        p.start()
    barrier.wait()
    cpu_before = cpu_seconds()
    t0 = time.perf_counter()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t0
    cpu_after = cpu_seconds()
    for p in procs:
        p.join()
    server.terminate()
    server.wait(timeout=20)

    cpu = {group: cpu_after[group] - cpu_before[group] for group in cpu_after}
    errors = sum(r[1] for r in results)
    total = 0
    worst_p95 = 0.0
    print(f"{'page':<22} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name in PAGES:
        values = [v for r in results for v in r[0][name]]
        total += len(values)
        p95 = percentile(values, 95) * 1000
        worst_p95 = max(worst_p95, p95)
        print(
            f"{name:<22} {len(values):>9,} {percentile(values, 50) * 1000:>8.1f} {p95:>8.1f} "
            f"{percentile(values, 99) * 1000:>8.1f}"
        )
    print(f"throughput           {total / wall:,.1f} requests/s over {wall:.1f} s, errors {errors}")
    print(
        f"CPU                  gunicorn {cpu['gunicorn']:.1f} s, PostgreSQL {cpu['postgres']:.1f} s, machine "
        f"{cpu['machine']:.1f} s of {wall * (os.cpu_count() or 1):.1f} CPU-seconds; "
        f"per request gunicorn {cpu['gunicorn'] / max(1, total) * 1000:.1f} ms, "
        f"PostgreSQL {cpu['postgres'] / max(1, total) * 1000:.1f} ms; load average {os.getloadavg()[0]:.2f}"
    )
    verdict = "met" if total and not errors and worst_p95 < GOAL_P95_MS else "NOT met"
    print(
        f"goal                 p95 < {GOAL_P95_MS} ms on every page: {verdict} (worst p95 {worst_p95:.1f} ms; the "
        "machine may be shared, see the load average)"
    )
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    import importlib.util

    spec = importlib.util.spec_from_file_location("scripts_run", ROOT / "scripts" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["scripts_run"] = module
    sys.path.insert(0, str(ROOT / "bench"))
    sys.exit(main())
