from datetime import UTC, datetime

from billing_portal.common.clock import month_bounds, month_of


def test_month_bounds_in_tokyo_are_stored_in_utc():
    start, end = month_bounds(2026, 3, "Asia/Tokyo")
    assert start == datetime(2026, 2, 28, 15, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    assert (end - start).days == 31


def test_december_rolls_into_next_year():
    start, end = month_bounds(2026, 12, "UTC")
    assert (start.month, end.year, end.month) == (12, 2027, 1)


def test_month_of_uses_tenant_time_zone():
    instant = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # 1 April 01:00 in Tokyo
    assert month_of(instant, "Asia/Tokyo") == (2026, 4)
    assert month_of(instant, "UTC") == (2026, 3)
