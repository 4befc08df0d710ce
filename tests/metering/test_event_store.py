"""The ClickHouse event store counts exactly what the PostgreSQL one counts: the same ingest scenario (several
tenants, RPs and users, duplicates within and across requests, an id re-sent with other content, the month
boundary in Asia/Tokyo, meters added, subtracted, set and deleted) through the real API against both stores, every
count read back through the API, compared with each other and with a brute-force recount."""

import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from metering import event_store
from metering.event_outbox import events_ship, events_ship_all
from metering.models import AuthEvent, EventOutbox, MauCounter, MeteringUnit
from metering.selectors import mau_history
from tests.factories import TenantFactory
from tests.metering.factories import auth, make_api_key, make_rps

pytestmark = pytest.mark.django_db
NOW = "2026-11-20T03:00:00Z"
RPS = ["login.example.com", "shop.example.com", "app.example.com"]
ZONES = {"tokyo": "Asia/Tokyo", "utc": "UTC", "la": "America/Los_Angeles"}
# Instants around the Tokyo month boundary (2026-11-01 00:00 JST = 2026-10-31 15:00 UTC) and LA's (07:00 UTC).
BOUNDARY = [
    "2026-10-31T14:59:59.999999Z",
    "2026-10-31T15:00:00Z",
    "2026-10-31T15:30:00+00:00",
    "2026-11-01T08:59:59+09:00",
    "2026-11-01T06:59:59Z",
    "2026-11-01T07:00:00Z",
]
ODD_USERS = ["ユーザー", 'a"b', "back\\slash", "tab\there"]


def scenario_events(seed: int) -> list[list[dict]]:
    """Batches of events: random users over 27 days, the boundary instants, repeats within a batch, replays of
    earlier batches, and an id sent again later with another user and month (the first copy counts)."""
    rng = random.Random(seed)
    start = datetime(2026, 10, 24, tzinfo=UTC)
    batches, n = [], 0
    for b in range(8):
        batch = []
        for _ in range(rng.randint(30, 90)):
            n += 1
            user = rng.choice(ODD_USERS) if rng.random() < 0.05 else f"user-{rng.randint(1, 40)}"
            when = (
                BOUNDARY[n % len(BOUNDARY)]
                if n % 7 == 0
                else (start + timedelta(seconds=rng.randrange(27 * 86400))).isoformat()
            )
            batch.append({"id": f"s{seed}-{n}", "rp": rng.choice(RPS), "user_id": user, "occurred_at": when})
        batch += rng.sample(batch, 5)  # repeated within the batch
        if b >= 2:
            batch += rng.sample(batches[b - 2], 10)  # replays of an earlier request
        if b == 5:  # an old id again, another user and month: ignored
            batch.append(
                {
                    "id": batches[0][0]["id"],
                    "rp": RPS[0],
                    "user_id": "impostor",
                    "occurred_at": "2026-10-25T00:00:00Z",
                }
            )
        batches.append(batch)
    return batches


def brute_force(batches, tz_name):
    seen, mau, rp_mau, events, rp_events, dau = (
        set(),
        defaultdict(set),
        defaultdict(set),
        defaultdict(int),
        defaultdict(int),
        defaultdict(set),
    )
    for batch in batches:
        for e in batch:
            if e["id"] in seen:
                continue
            seen.add(e["id"])
            local = datetime.fromisoformat(e["occurred_at"]).astimezone(ZoneInfo(tz_name))
            month = f"{local:%Y-%m}"
            mau[month].add(e["user_id"])
            rp_mau[(month, e["rp"])].add(e["user_id"])
            events[month] += 1
            rp_events[(month, e["rp"])] += 1
            dau[local.date().isoformat()].add(e["user_id"])
    return (
        {m: len(u) for m, u in mau.items()},
        {k: len(u) for k, u in rp_mau.items()},
        dict(events),
        dict(rp_events),
        {d: len(u) for d, u in dau.items()},
    )


def ts(text):
    return int(datetime.fromisoformat(text).timestamp())


# (unit, rp, when, method, count): the same readings for every tenant; 2026-10-31T15:00Z is November in Tokyo.
METER_OPS = [
    ("api_calls", "login.example.com", "2026-10-31T14:59:59Z", "add", 10),
    ("api_calls", "login.example.com", "2026-10-31T15:00:00Z", "add", 7),
    ("api_calls", "login.example.com", "2026-10-31T15:00:00Z", "add", 5),
    ("api_calls", "login.example.com", "2026-10-31T15:00:00Z", "sub", 3),
    ("api_calls", "shop.example.com", "2026-11-10T00:00:00Z", "direct", 40),
    ("api_calls", "", "2026-11-10T00:00:00Z", "add", 2),
    ("api_calls", "shop.example.com", "2026-11-12T00:00:00Z", "add", 99),
    ("api_calls", "shop.example.com", "2026-11-12T00:00:00Z", "delete", 0),
    ("api_calls", "shop.example.com", "2026-11-12T00:00:00Z", "add", 4),  # re-created after its deletion
    ("disk_bytes", "login.example.com", "2026-11-05T00:00:00Z", "direct", 500),
    ("disk_bytes", "shop.example.com", "2026-11-05T00:00:00Z", "direct", 300),  # same timestamp: 800
    ("disk_bytes", "login.example.com", "2026-11-06T00:00:00Z", "direct", 700),
    ("disk_bytes", "login.example.com", "2026-11-06T00:00:00Z", "sub", 100),
    ("disk_bytes", "login.example.com", "2026-10-20T00:00:00Z", "direct", 900),
]


def meter_expected(tz_name):
    values = {}
    for unit, rp, when, method, count in METER_OPS:
        key = (unit, rp, when)
        if method == "delete":
            values.pop(key)
        else:
            values[key] = {
                "add": values.get(key, 0) + count,
                "sub": values.get(key, 0) - count,
                "direct": count,
            }[method]
    result = {}
    for month in ("2026-10", "2026-11"):
        for unit in ("api_calls", "disk_bytes"):
            in_month = [
                (rp, when, v)
                for (u, rp, when), v in values.items()
                if u == unit
                and f"{datetime.fromisoformat(when).astimezone(ZoneInfo(tz_name)):%Y-%m}" == month
            ]
            if unit == "api_calls":
                result[(month, unit)] = sum(v for _, _, v in in_month)
            else:
                per_ts = defaultdict(int)
                for _, when, v in in_month:
                    per_ts[when] += v
                result[(month, unit)] = max(per_ts.values(), default=0)
    return result


def run_scenario(client, prefix: str, ship, zones=tuple(ZONES)) -> dict:
    """Ingest and meter the scenario for three tenants through the API; read every count back through the API."""
    results = {}
    for name in zones:
        tz_name = ZONES[name]
        tenant = TenantFactory(slug=f"{prefix}-{name}", time_zone=tz_name)
        make_rps(tenant, *RPS)
        key = make_api_key(tenant=tenant)
        batches = scenario_events(seed=len(name))
        for batch in batches:
            response = client.post(
                f"/api/v1/tenants/{tenant.slug}/auth-events",
                json.dumps({"events": batch}),
                content_type="application/json",
                **auth(key),
            )
            assert response.status_code == 200, response.content
            body = response.json()
            assert body["accepted"] + body["duplicates"] == len(batch) and body["late"] == 0
            ship()  # one ClickHouse insert (part) per request: the duplicates across parts collapse only in FINAL
        for unit, rp, when, method, count in METER_OPS:
            path = f"/api/v1/tenants/{tenant.slug}/units/{unit}/timestamp/{ts(when)}"
            if method == "delete":
                response = client.delete(path + (f"?rp={rp}" if rp else ""), **auth(key))
            else:
                response = client.put(
                    path,
                    json.dumps({"method": method, "count": count, "rp": rp}),
                    content_type="application/json",
                    **auth(key),
                )
            assert response.status_code == 200, response.content
            ship()

        def get(path, key=key, tenant=tenant):
            response = client.get(f"/api/v1/tenants/{tenant.slug}/{path}", **auth(key))
            assert response.status_code == 200, response.content
            return response.json()

        got = {
            "mau": {m: get(f"mau?month={m}") for m in ("2026-09", "2026-10", "2026-11")},
            "usage": {m: get(f"usage?month={m}") for m in ("2026-10", "2026-11")},
            "daily": get("daily-actives?from=2026-10-20&to=2026-11-20"),
            "units_month": {m: get(f"units/month/{m}") for m in ("2026-10", "2026-11")},
            "units_day": {
                d: get(f"units/date/{d}") for d in ("2026-10-31", "2026-11-01", "2026-11-05", "2026-11-06")
            },
            "unit_day": {
                d: get(f"units/api_calls/date/{d}") for d in ("2026-10-31", "2026-11-01", "2026-11-12")
            },
            "history": mau_history(tenant=tenant, months=4),
        }
        for m in ("2026-10", "2026-11"):
            got[f"unit-{m}"] = {u: get(f"units/{u}/month/{m}")["count"] for u in ("api_calls", "disk_bytes")}
        results[name] = (got, batches)
    return results


def check_against_brute_force(results):
    for name, (got, batches) in results.items():
        mau, rp_mau, events, rp_events, dau = brute_force(batches, ZONES[name])
        for month in ("2026-09", "2026-10", "2026-11"):
            assert got["mau"][month]["mau"] == mau.get(month, 0), (name, month)
            assert got["mau"][month]["by_rp"] == {
                rp: n for (m, rp), n in sorted(rp_mau.items()) if m == month
            }
        for month in ("2026-10", "2026-11"):
            channels = got["usage"][month]["channels"]
            for rp in RPS:
                channel = channels.get(rp, {"mau": 0, "auth_events": 0})
                assert (channel["mau"], channel["auth_events"]) == (
                    rp_mau.get((month, rp), 0),
                    rp_events.get((month, rp), 0),
                ), (name, month, rp)
        assert {d["date"]: d["dau"] for d in got["daily"]["days"] if d["dau"]} == dau, name
        assert got["history"]["total"][-3:] == [mau.get(m, 0) for m in ("2026-09", "2026-10", "2026-11")]
        expected = meter_expected(ZONES[name])
        for month in ("2026-10", "2026-11"):
            assert got[f"unit-{month}"] == {u: expected[(month, u)] for u in ("api_calls", "disk_bytes")}, (
                name,
                month,
            )
            assert got["units_month"][month]["units"] == got[f"unit-{month}"]


def test_the_same_scenario_counts_the_same_in_postgresql_and_clickhouse(client, settings, _chdb_dir):
    MeteringUnit.objects.create(unit_name="api_calls", display_name="API calls", aggregation="sum")
    MeteringUnit.objects.create(unit_name="disk_bytes", display_name="Disk", aggregation="max")
    with time_machine.travel(NOW, tick=False):
        assert event_store.current().name == "postgres"
        postgres = run_scenario(client, "pg", ship=lambda: None)
        assert EventOutbox.objects.count() == 0  # PostgreSQL's path writes no outbox

        settings.EVENT_STORE_URL = f"chdb://{_chdb_dir}?database=bp_test"
        store = event_store.current()
        store.truncate()
        counters_before = MauCounter.objects.count()
        clickhouse = run_scenario(client, "ch", ship=events_ship_all)
        assert store.name == "clickhouse"
        # The ClickHouse path kept PostgreSQL's event tables out of it and emptied its outbox.
        assert MauCounter.objects.count() == counters_before
        assert not AuthEvent.objects.filter(tenant__slug__startswith="ch-").exists()
        assert EventOutbox.objects.count() == 0

    check_against_brute_force(postgres)
    check_against_brute_force(clickhouse)
    for name in ZONES:
        assert clickhouse[name][0] == postgres[name][0], name
    # The scenario does cross the Tokyo boundary: the same instants fall in other months in UTC.
    assert postgres["tokyo"][0]["mau"]["2026-11"] != postgres["utc"][0]["mau"]["2026-11"]


def test_a_batch_shipped_twice_counts_once(client, clickhouse_store, monkeypatch):
    """At least once: ClickHouse stored the batch, then the commit that deletes the outbox rows failed; the rows
    are shipped again and every count stays exact."""
    tenant = TenantFactory(time_zone="Asia/Tokyo")
    make_rps(tenant, *RPS)
    key = make_api_key(tenant=tenant)
    with time_machine.travel(NOW, tick=False):
        for batch in scenario_events(seed=3)[:4]:
            client.post(
                f"/api/v1/tenants/{tenant.slug}/auth-events",
                json.dumps({"events": batch}),
                content_type="application/json",
                **auth(key),
            )
        rows = EventOutbox.objects.count()
        assert rows == 4

        real_insert = clickhouse_store.insert

        def insert_then_crash(table, columns):
            real_insert(table, columns)
            if table == "meter_readings":
                raise ConnectionError("worker lost after ClickHouse stored the batch")

        monkeypatch.setattr(clickhouse_store, "insert", insert_then_crash)
        with pytest.raises(ConnectionError):
            events_ship()
        assert EventOutbox.objects.count() == rows  # rolled back: still queued
        monkeypatch.setattr(clickhouse_store, "insert", real_insert)
        assert events_ship()["rows"] == rows
        assert EventOutbox.objects.count() == 0

        mau, rp_mau, events, rp_events, _dau = brute_force(scenario_events(seed=3)[:4], "Asia/Tokyo")
        stored = clickhouse_store.mau_months(tenant=tenant, first=date(2026, 10, 1), last=date(2026, 11, 1))
        assert {f"{m:%Y-%m}": v for (m, rp), v in stored.items() if rp == ""} == {
            m: (mau[m], events[m]) for m in mau
        }
        raw = clickhouse_store.conn.query(
            "SELECT count() FROM bp_test.auth_events WHERE tenant_id = {t:UInt64}", {"t": tenant.pk}
        )
        assert raw[0][0] == 2 * sum(events.values())  # the copies are there, and FINAL collapses them


def test_counts_wait_for_shipping_and_a_tenants_flush_waits_for_nobody_else(client, clickhouse_store):
    tenant, other = TenantFactory(), TenantFactory()
    for t in (tenant, other):
        make_rps(t, *RPS)
    with time_machine.travel(NOW, tick=False):
        for t in (tenant, other):
            client.post(
                f"/api/v1/tenants/{t.slug}/auth-events",
                json.dumps(
                    {
                        "events": [
                            {
                                "id": "1",
                                "rp": RPS[0],
                                "user_id": "alice",
                                "occurred_at": "2026-11-02T00:00:00Z",
                            }
                        ]
                    }
                ),
                content_type="application/json",
                **auth(make_api_key(tenant=t)),
            )
        assert clickhouse_store.mau(tenant=tenant, month=date(2026, 11, 1)) == 0  # not shipped yet
        assert events_ship(tenant=tenant) == {"rows": 1, "events": 1, "readings": 0}
        assert clickhouse_store.mau(tenant=tenant, month=date(2026, 11, 1)) == 1
        assert clickhouse_store.mau(tenant=other, month=date(2026, 11, 1)) == 0
        assert EventOutbox.objects.filter(tenant=other).count() == 1


def test_chdb_string_parameters_arrive_unchanged(clickhouse_store):
    rows = clickhouse_store.conn.query(
        "SELECT {a:String}, {b:String}, {c:String}",
        {"a": "back\\slash", "b": "tab\there 'q'", "c": "ユーザー\n"},
    )
    assert rows == [["back\\slash", "tab\there 'q'", "ユーザー\n"]]


def test_clickhouse_connect_sends_the_same_sql_to_a_server(client, settings, clickhouse_http_url):
    """The production transport (clickhouse-connect over HTTP) against ClickHouse's HTTP interface (stood in by
    chdb in another process): the Tokyo tenant's scenario counts as on PostgreSQL."""
    MeteringUnit.objects.create(unit_name="api_calls", display_name="API calls", aggregation="sum")
    MeteringUnit.objects.create(unit_name="disk_bytes", display_name="Disk", aggregation="max")
    with time_machine.travel(NOW, tick=False):
        postgres = run_scenario(client, "pg", ship=lambda: None, zones=["tokyo"])
        settings.EVENT_STORE_URL = clickhouse_http_url
        store = event_store.current()
        assert type(store.conn).__name__ == "ServerConnection"
        store.truncate()
        server = run_scenario(client, "http", ship=events_ship_all, zones=["tokyo"])
    check_against_brute_force(server)
    assert server["tokyo"][0] == postgres["tokyo"][0]


def test_event_store_command_ships_and_reports_the_backlog(client, clickhouse_store):
    from io import StringIO

    from django.core.management import call_command

    from metering.clickhouse import schema_statements

    tenant = TenantFactory()
    make_rps(tenant, *RPS)
    with time_machine.travel(NOW, tick=False):
        client.post(
            f"/api/v1/tenants/{tenant.slug}/auth-events",
            json.dumps({"events": scenario_events(seed=1)[0]}),
            content_type="application/json",
            **auth(make_api_key(tenant=tenant)),
        )
        out = StringIO()
        call_command("event_store", stdout=out)
        assert "outbox: 1 rows" in out.getvalue()
        out = StringIO()
        call_command("event_store", "--ship", stdout=out)
    assert "Shipped 1 outbox rows" in out.getvalue() and "outbox: 0 rows, 0 events waiting" in out.getvalue()
    assert all("ON CLUSTER main" in s for s in schema_statements("events", "main"))
    assert sum("ReplicatedReplacingMergeTree" in s for s in schema_statements("events", "main")) == 2
