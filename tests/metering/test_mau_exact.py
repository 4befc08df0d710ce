"""MAU from the maintained counters equals a brute-force recount over the raw events."""

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metering.models import AuthEvent, MauCounter, MauFirstSeen
from metering.selectors import daily_actives, mau_by_rp, mau_count
from metering.services import auth_events_ingest
from tests.factories import TenantFactory
from tests.metering.factories import make_rps

RPS = ["a.example", "b.example", "c.example"]
BASE = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)  # spans the Jan/Feb/Mar boundaries
NOW = "2026-06-01T00:00:00Z"


def brute_force(events, tz_name):
    """{(year, month): set(users)} and {(year, month, rp): set(users)} from unique event ids (first wins)."""
    seen, total, per_rp, per_day = set(), defaultdict(set), defaultdict(set), defaultdict(set)
    for e in events:
        if e["id"] in seen:
            continue
        seen.add(e["id"])
        local = datetime.fromisoformat(e["occurred_at"]).astimezone(ZoneInfo(tz_name))
        total[(local.year, local.month)].add(e["user_id"])
        per_rp[(local.year, local.month, e["rp"])].add(e["user_id"])
        per_day[local.date()].add(e["user_id"])
    return total, per_rp, per_day


def assert_counters_match(tenant, events):
    total, per_rp, per_day = brute_force(events, tenant.time_zone)
    months = {(y, m) for (y, m) in total} | {(2026, 2)}
    for y, m in months:
        assert mau_count(tenant=tenant, year=y, month=m) == len(total.get((y, m), ()))
        expected = {rp: len(per_rp[(y, m, rp)]) for rp in RPS if per_rp.get((y, m, rp))}
        assert mau_by_rp(tenant=tenant, year=y, month=m) == expected
        for rp in RPS:
            assert mau_count(tenant=tenant, year=y, month=m, rp_id=rp) == len(per_rp.get((y, m, rp), ()))
    if per_day:
        first, last = min(per_day), max(per_day)
        assert daily_actives(tenant=tenant, start=first, end=last) == [
            (first + timedelta(days=i), len(per_day.get(first + timedelta(days=i), ())))
            for i in range((last - first).days + 1)
        ]
    # The first-seen table agrees with the counter too.
    assert MauFirstSeen.objects.filter(tenant=tenant).count() == sum(len(v) for v in total.values())


# Ids and instants as clients send them: quotes, backslashes, non-ASCII, offsets, microseconds (they travel to
# PostgreSQL inside JSON arrays and must come out unchanged).
ODD_USERS = ["ユーザー", 'a"b', "back\\slash", "tab\there", "\u2028line"]
OFFSETS = [UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-7, minutes=-30))]

events_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.integers(0, 60).map(lambda n: f"ev-{n}" if n % 3 else f'ev-"{n}"\\ü'),
            "rp": st.sampled_from(RPS),
            "user_id": st.one_of(st.integers(0, 12).map(lambda n: f"user-{n}"), st.sampled_from(ODD_USERS)),
            "occurred_at": st.tuples(
                st.integers(0, 60 * 24 * 40), st.integers(0, 999_999), st.sampled_from(OFFSETS)
            ).map(
                lambda t: (
                    (BASE + timedelta(minutes=t[0] * 1.5, microseconds=t[1])).astimezone(t[2]).isoformat()
                )
            ),
        }
    ),
    max_size=80,
)


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(events_strategy, min_size=1, max_size=4), tz=st.sampled_from(["Asia/Tokyo", "UTC"]))
def test_counters_equal_brute_force_recount(batches, tz):
    with time_machine.travel(NOW, tick=False):
        tenant = TenantFactory(time_zone=tz)
        make_rps(tenant, *RPS)
        everything = []
        for batch in batches:
            # A batch's result: events whose id was never seen before (in earlier batches or this one).
            before = {e["id"] for e in everything}
            result = auth_events_ingest(tenant=tenant, events=batch)
            new_ids = {e["id"] for e in batch} - before
            assert result == {
                "accepted": len(new_ids),
                "duplicates": len(batch) - len(new_ids),
                "late": 0,
                "late_months": [],
            }
            everything.extend(batch)
        assert_counters_match(tenant, everything)


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_late_events_for_an_earlier_month_count_in_that_month():
    tenant = TenantFactory()
    make_rps(tenant, *RPS)
    auth_events_ingest(
        tenant=tenant,
        events=[
            {"id": "now-1", "rp": "a.example", "user_id": "u1", "occurred_at": "2026-05-30T00:00:00Z"},
        ],
    )
    auth_events_ingest(
        tenant=tenant,
        events=[
            {"id": "late-1", "rp": "a.example", "user_id": "u1", "occurred_at": "2026-03-10T00:00:00Z"},
            {"id": "late-2", "rp": "b.example", "user_id": "u2", "occurred_at": "2026-03-11T00:00:00Z"},
        ],
    )
    assert mau_count(tenant=tenant, year=2026, month=3) == 2
    assert mau_count(tenant=tenant, year=2026, month=5) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_requests_neither_deadlock_nor_double_count():
    with time_machine.travel(NOW, tick=True):
        tenant = TenantFactory()
        make_rps(tenant, *RPS)
        # 8 requests, each 400 events over the same 150 users, partly the same event ids (replays), in
        # different orders: they all insert the same first-seen keys at the same time.
        batches = []
        for t in range(8):
            batch = [
                {
                    "id": f"ev-{(t * 200 + i) % 1000}",
                    "rp": RPS[(i + t) % 3],
                    "user_id": f"user-{(i * 7 + t) % 150}",
                    "occurred_at": (BASE + timedelta(days=(i % 3) * 10)).isoformat(),
                }
                for i in range(400)
            ]
            batches.append(batch[::-1] if t % 2 else batch)
        errors, results = [], []
        barrier = threading.Barrier(len(batches))

        def worker(batch):
            try:
                barrier.wait()
                results.append(auth_events_ingest(tenant=tenant, events=batch))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, args=(b,)) for b in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        everything = [e for b in batches for e in b]
        assert sum(r["accepted"] for r in results) == len({e["id"] for e in everything})
        assert AuthEvent.objects.filter(tenant=tenant).count() == len({e["id"] for e in everything})
        # Which event of an id wins depends on timing; recount from what was stored.
        stored = [
            {"id": e.event_id, "rp": e.rp_id, "user_id": e.user_id, "occurred_at": e.occurred_at.isoformat()}
            for e in AuthEvent.objects.filter(tenant=tenant)
        ]
        assert_counters_match(tenant, stored)
        assert MauCounter.objects.filter(tenant=tenant, rp_id="").count() >= 2
