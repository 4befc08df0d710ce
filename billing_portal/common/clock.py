"""The one clock. Code asks `clock.now()` so that tests can travel in time (time-machine patches it too)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return timezone.now()


def today_in(tz_name: str):
    """Today's date in the given IANA time zone."""
    return now().astimezone(ZoneInfo(tz_name)).date()


def local_text(instant: datetime | None, tz_name: str, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """An instant as a person in `tz_name` reads it (e.g. "2027-04-01 00:00 JST"); "" for None."""
    return instant.astimezone(ZoneInfo(tz_name)).strftime(fmt) if instant else ""


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
