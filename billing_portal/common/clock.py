"""The one clock. Code asks `clock.now()` so that tests can travel in time (time-machine patches it too).

Test clocks (`ops.TestClock`, as Stripe's; `ops` provides their time, see `providers`): a test tenant has its own time, which stands still until ops
advance it. `now(tenant=t)` is that tenant's time; inside `tenant_scope(t)` (its portal pages and API, the
work a test clock's advance runs, tasks queued from there) plain `now()` is too, so the services that ask
`clock.now()` need not know. A tenant without a test clock (every real one) always sees the real time.
`system_now()` is the platform's own time (webhook signatures, retry backoff of deliveries): never a test clock.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from . import providers

# (tenant id, frozen instant) of the test clock in effect, or None: the real time.
_scope: ContextVar[tuple[int, datetime] | None] = ContextVar("tenant_clock", default=None)


def system_now() -> datetime:
    """The real current instant (aware, UTC), whatever test clock is in scope."""
    return timezone.now()


def test_clock_time(tenant_id) -> datetime | None:
    """The frozen time of the tenant's test clock, or None for a tenant without one (one indexed query)."""
    return providers.get("test_clock_time")(tenant_id)


test_clock_time.__test__ = False


def now(tenant=None) -> datetime:
    """The current instant, aware, in UTC: the tenant's test clock if it has one (or the one in scope)."""
    scoped = _scope.get()
    if tenant is not None:
        tenant_id = getattr(tenant, "pk", tenant)
        if scoped is not None and scoped[0] == tenant_id:
            return scoped[1]
        return test_clock_time(tenant_id) or timezone.now()
    if scoped is not None:
        return scoped[1]
    return timezone.now()


def scoped_tenant_id() -> int | None:
    """The tenant whose test clock is in scope, if any."""
    scoped = _scope.get()
    return scoped[0] if scoped else None


@contextmanager
def tenant_scope(tenant, at: datetime | None = None):
    """Within the block, `now()` is the tenant's test-clock time (or `at`); no effect for a normal tenant."""
    tenant_id = getattr(tenant, "pk", tenant)
    frozen = at or test_clock_time(tenant_id)
    if frozen is None:
        yield
        return
    token = _scope.set((tenant_id, frozen))
    try:
        yield
    finally:
        _scope.reset(token)


def today_in(tz_name: str):
    """Today's date in the given IANA time zone."""
    return now().astimezone(ZoneInfo(tz_name)).date()


def local_text(instant: datetime | None, tz_name: str, fmt: str | None = None) -> str:
    """An instant as a person in `tz_name` reads it, in the current language's DATETIME_FORMAT ("2027-04-01 00:00
    JST", 「2027年4月1日 0:00 JST」); `fmt`: an strftime format instead. "" for None."""
    if not instant:
        return ""
    local = instant.astimezone(ZoneInfo(tz_name))
    if fmt is not None:
        return local.strftime(fmt)
    from django.utils.formats import date_format

    return date_format(local, "DATETIME_FORMAT")


def local_date(instant: datetime, tz_name: str):
    """The calendar date of an instant in the given time zone (number series and billing dates use this)."""
    return instant.astimezone(ZoneInfo(tz_name)).date()


def month_bounds(year: int, month: int, tz_name: str) -> tuple[datetime, datetime]:
    """The calendar month [start, end) in the given time zone, as aware datetimes in UTC."""
    tz = ZoneInfo(tz_name)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def month_of(instant: datetime, tz_name: str) -> tuple[int, int]:
    """(year, month) of an instant in the given time zone."""
    local = instant.astimezone(ZoneInfo(tz_name))
    return local.year, local.month
