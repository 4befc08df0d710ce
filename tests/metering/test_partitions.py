"""Raw authentication events partitioned by month (metering/partitions.py): idempotency by event id through
metering_autheventkey, partitions created on demand and ahead by beat, retention that never changes billed MAU."""

import json
import threading
from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from metering import partitions
from metering.models import AuthEvent, AuthEventKey, MauCounter, MauFirstSeen
from metering.selectors import mau_count
from metering.services import auth_events_ingest
from payments.invoicing import cycle
from tests.factories import TenantFactory
from tests.licenses.conftest import buy, jst
from tests.metering.factories import auth, event, make_api_key, make_rps

NOW = "2026-11-20T03:00:00Z"


def post(client, tenant, raw, events):
    return client.post(
        f"/api/v1/tenants/{tenant.slug}/auth-events",
        json.dumps({"events": events}),
        content_type="application/json",
        **auth(raw),
    )


def partition_names():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'metering_authevent'"
        )
        return {row[0] for row in cursor.fetchall()}


def rows_in(partition):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partition}")  # noqa: S608 - a fixed test name
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_the_events_table_is_partitioned_by_month_of_the_event_time():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_partkeydef('metering_authevent'::regclass), "
            "(SELECT relkind FROM pg_class WHERE relname = 'metering_authevent')"
        )
        assert cursor.fetchone() == ("RANGE (occurred_at)", "p")


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_events_land_in_their_months_partition_and_replays_and_repeats_collapse(client, tenant):
    make_rps(tenant, "login.example.com")
    key = make_api_key(tenant=tenant)
    batch = [
        event("e1", "alice", "2026-11-02T10:00:00Z"),
        event("e2", "bob", "2026-10-31T23:30:00Z"),
        event("e1", "alice", "2026-11-05T10:00:00Z"),  # repeated id in the batch: the first one counts
    ]
    assert post(client, tenant, key, batch).json()["accepted"] == 2
    assert rows_in("metering_authevent_y2026m11") == 1
    assert rows_in("metering_authevent_y2026m10") == 1
    # The same batch again: nothing new, in the events, the keys or the counters.
    assert post(client, tenant, key, batch).json() == {
        "accepted": 0,
        "duplicates": 3,
        "late": 0,
        "late_months": [],
    }
    assert AuthEvent.objects.filter(tenant=tenant).count() == 2
    assert sorted(AuthEventKey.objects.filter(tenant=tenant).values_list("event_id", flat=True)) == [
        "e1",
        "e2",
    ]
    assert MauCounter.objects.get(tenant=tenant, month="2026-11-01", rp_id="").events == 2
    # An id already stored, now with another time and user, is still a duplicate.
    assert post(client, tenant, key, [event("e2", "carol", "2026-11-10T00:00:00Z")]).json()["accepted"] == 0
    assert mau_count(tenant=tenant, year=2026, month=11) == 2
    # Another tenant's same ids are its own events.
    other = TenantFactory()
    make_rps(other, "login.example.com")
    assert post(client, other, make_api_key(tenant=other), batch).json()["accepted"] == 2


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_an_event_of_a_month_without_a_partition_creates_it_instead_of_failing(client, tenant):
    make_rps(tenant, "login.example.com")
    key = make_api_key(tenant=tenant)
    assert "metering_authevent_y2019m05" not in partition_names()
    response = post(
        client,
        tenant,
        key,
        [event("old-1", "alice", "2019-05-03T10:00:00Z"), event("now-1", "alice", "2026-11-19T10:00:00Z")],
    )
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 2
    assert "metering_authevent_y2019m05" in partition_names()
    assert rows_in("metering_authevent_y2019m05") == 1
    assert mau_count(tenant=tenant, year=2019, month=5) == 1
    assert mau_count(tenant=tenant, year=2026, month=11) == 1


def test_concurrent_requests_for_the_same_missing_month_both_succeed(transactional_db):
    tenant = TenantFactory()
    make_rps(tenant, "login.example.com")
    barrier = threading.Barrier(2)
    results, errors = [], []

    def ingest(n):
        try:
            barrier.wait(timeout=10)
            answer = auth_events_ingest(
                tenant=tenant,
                events=[event(f"t{n}-{i}", f"user{i}", "2018-02-10T10:00:00Z") for i in range(50)],
            )
            results.append(answer["accepted"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest, args=(n,)) for n in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert results == [50, 50]
        assert mau_count(tenant=tenant, year=2018, month=2) == 50
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS metering_authevent_y2018m02")


@pytest.mark.django_db
def test_beat_creates_this_month_and_the_next_two_and_is_scheduled():
    schedule = settings.CELERY_BEAT_SCHEDULE["event-partitions"]
    assert schedule["task"] == "metering.tasks.event_partitions_tick"
    assert schedule["schedule"] == 60 * 60
    created = partitions.partitions_ensure(now=datetime(2031, 11, 15, tzinfo=UTC))
    assert created == [
        "metering_authevent_y2031m11",
        "metering_authevent_y2031m12",
        "metering_authevent_y2032m01",
    ]
    assert partitions.partitions_ensure(now=datetime(2031, 11, 15, tzinfo=UTC)) == []  # idempotent
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE relname = 'metering_authevent_y2031m12'"
        )
        assert cursor.fetchone()[0] == (
            "FOR VALUES FROM ('2031-12-01 00:00:00+00') TO ('2032-01-01 00:00:00+00')"
        )


@pytest.mark.django_db
def test_retention_drops_old_partitions_but_never_the_billed_mau_or_the_invoice(client, tenant):
    buy(tenant, "starter", jst(2027, 3, 1))  # Starter: 1,000 MAU, ¥30 per MAU above
    make_rps(tenant, "login.example.com")
    users = [f"u{i}" for i in range(1_002)]
    march = [event(f"m-{u}", u, "2027-03-20T10:00:00+09:00") for u in users]
    with time_machine.travel(jst(2027, 3, 20, 12), tick=False):
        key = make_api_key(tenant=tenant)
        assert post(client, tenant, key, march).json()["accepted"] == 1_002
        assert post(client, tenant, key, march).json()["accepted"] == 0
    with time_machine.travel(jst(2027, 4, 1, 0, 10), tick=False):
        april = cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=4)
    billed = [(line.description, int(line.quantity), line.amount) for line in april.lines.all()]
    assert ("MAU overage (above 1,000 MAU)", 2, 60) in billed
    totals = (april.usage_amount, april.tax_amount, april.payment_amount)
    assert rows_in("metering_authevent_y2027m03") == 1_002

    # 13 months of retention: in April 2028 March 2027 is still kept, in May 2028 it is dropped.
    assert "metering_authevent_y2027m03" not in partitions.partitions_drop_expired(
        now=datetime(2028, 4, 30, tzinfo=UTC), retention=13
    )
    dropped = partitions.partitions_drop_expired(now=datetime(2028, 5, 1, 1, tzinfo=UTC), retention=13)
    assert "metering_authevent_y2027m03" in dropped
    assert "metering_authevent_y2027m03" not in partition_names()
    assert not AuthEvent.objects.filter(tenant=tenant).exists()
    assert not AuthEventKey.objects.filter(tenant=tenant).exists()

    # The evidence stays: MAU of March, its first-seen rows, and the invoice that billed it.
    assert mau_count(tenant=tenant, year=2027, month=3) == 1_002
    assert MauFirstSeen.objects.filter(tenant=tenant, month="2027-03-01").count() == 1_002
    april.refresh_from_db()
    assert [(line.description, int(line.quantity), line.amount) for line in april.lines.all()] == billed
    assert (april.usage_amount, april.tax_amount, april.payment_amount) == totals
    with time_machine.travel(jst(2027, 4, 1, 0, 20), tick=False):
        assert cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=4).pk == april.pk

    # Outside the retention window idempotency by event id is gone (documented): a replay of March is stored
    # again (its partition is created on demand) — but every user is already counted, so MAU does not move.
    with time_machine.travel(jst(2028, 5, 2, 12), tick=False):
        replay = post(client, tenant, key, march).json()
    assert replay["accepted"] == 1_002
    assert mau_count(tenant=tenant, year=2027, month=3) == 1_002


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_metering_partitions_command_lists_partitions_with_row_estimates(client, tenant):
    make_rps(tenant, "login.example.com")
    key = make_api_key(tenant=tenant)
    post(client, tenant, key, [event(f"e{i}", f"u{i}", "2026-11-02T10:00:00Z") for i in range(20)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE metering_authevent_y2026m11")
    out = StringIO()
    call_command("metering_partitions", stdout=out)
    text = out.getvalue()
    line = next(line for line in text.splitlines() if line.startswith("metering_authevent_y2026m11"))
    assert line.split()[1:3] == ["2026-11", "20"]
    assert "retention 13 months" in text
