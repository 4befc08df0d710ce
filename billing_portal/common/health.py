"""Dependency checks for `/healthz` (each dependency, truthfully) and `/readyz` (can this instance serve?).

- database: `SELECT 1` on the default connection. Without it nothing works: not ready.
- redis: PING with the cache's short timeout. Without it the site still serves (the cache fails open, sessions
  are in the database) but Celery tasks cannot be queued: reported as down, the instance stays ready.
- stripe: an HTTP request to the Stripe API base (the stand-in's when STRIPE_API_BASE is set); any HTTP answer
  means reachable. Checked at most every STRIPE_CHECK_SECONDS per process so probes do not hammer Stripe.
"""

import threading
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.db import connection

STRIPE_CHECK_SECONDS = 30.0
_stripe_lock = threading.Lock()
_stripe_cached: tuple[float, dict] | None = None


def _timed(check) -> dict:
    started = time.monotonic()
    try:
        detail = check() or {}
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; say why
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok", "latency_ms": round((time.monotonic() - started) * 1000, 1), **detail}


def check_database() -> dict:
    def run():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    return _timed(run)


def check_redis() -> dict:
    def run():
        import redis

        timeout = settings.REDIS_TIMEOUT_SECONDS
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        try:
            client.ping()
        finally:
            client.close()

    return _timed(run)


def stripe_api_base() -> str:
    return (settings.STRIPE_API_BASE or "https://api.stripe.com").rstrip("/")


def check_stripe() -> dict:
    global _stripe_cached
    if not settings.STRIPE_SECRET_KEY:
        return {"status": "not_configured"}
    with _stripe_lock:
        if _stripe_cached and time.monotonic() - _stripe_cached[0] < STRIPE_CHECK_SECONDS:
            return _stripe_cached[1]

    def run():
        try:
            urllib.request.urlopen(f"{stripe_api_base()}/v1/", timeout=2)  # noqa: S310 - fixed https/stand-in URL
        except urllib.error.HTTPError:
            pass  # 401/404: Stripe answered, so it is reachable

    result = _timed(run)
    with _stripe_lock:
        _stripe_cached = (time.monotonic(), result)
    return result


def forget_stripe_result() -> None:
    global _stripe_cached
    with _stripe_lock:
        _stripe_cached = None


def health_report() -> tuple[dict, bool]:
    """(report, every dependency ok)."""
    checks = {"database": check_database(), "redis": check_redis(), "stripe": check_stripe()}
    down = [name for name, result in checks.items() if result["status"] == "down"]
    if "database" in down:
        status = "down"
    elif down:
        status = "degraded"
    else:
        status = "ok"
    return {"status": status, "checks": checks}, not down


def readiness() -> tuple[dict, bool]:
    """Ready to serve requests: the database answers (Redis and Stripe outages degrade features only)."""
    database = check_database()
    ready = database["status"] == "ok"
    return {"ready": ready, "checks": {"database": database}}, ready
