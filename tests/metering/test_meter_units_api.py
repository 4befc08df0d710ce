import json
from datetime import datetime

import pytest
import time_machine

from metering.models import MeteringUnit
from metering.selectors import usage_by_channel
from metering.services import auth_events_ingest
from tests.metering.factories import auth, make_api_key, make_rps

pytestmark = pytest.mark.django_db
NOW = "2026-11-20T03:00:00Z"


@pytest.fixture
def units(db):
    MeteringUnit.objects.create(unit_name="api_calls", display_name="API calls", aggregation="sum")
    MeteringUnit.objects.create(unit_name="disk_bytes", display_name="Disk", aggregation="max")


@pytest.fixture
def key(tenant):
    return make_api_key(tenant=tenant)


def ts(text):
    return int(datetime.fromisoformat(text).timestamp())


def put(client, tenant, key, unit, when, method, count, **extra):
    path = f"/api/v1/tenants/{tenant.slug}/units/{unit}/" + ("now" if when == "now" else f"timestamp/{when}")
    return client.put(
        path,
        json.dumps({"method": method, "count": count, **extra}),
        content_type="application/json",
        **auth(key),
    )


def get(client, tenant, key, path):
    return client.get(f"/api/v1/tenants/{tenant.slug}/{path}", **auth(key))


@time_machine.travel(NOW, tick=False)
def test_add_sub_direct_delete_and_counts_by_sum_and_max(client, tenant, key, units):
    t1 = ts("2026-11-19T00:30:00+09:00")  # 19 Nov in Tokyo (18 Nov in UTC)
    t2 = ts("2026-11-19T23:30:00+09:00")
    assert put(client, tenant, key, "api_calls", t1, "add", 10).json()["count"] == 10
    assert put(client, tenant, key, "api_calls", t1, "add", 5).json()["count"] == 15
    assert put(client, tenant, key, "api_calls", t1, "sub", 3).json()["count"] == 12
    assert put(client, tenant, key, "api_calls", t2, "direct", 7).json()["count"] == 7
    assert put(client, tenant, key, "disk_bytes", t1, "direct", 500).status_code == 200
    assert put(client, tenant, key, "disk_bytes", t2, "direct", 300).status_code == 200

    day = get(client, tenant, key, "units/api_calls/date/2026-11-19").json()
    assert day == {"unit": "api_calls", "aggregation": "sum", "date": "2026-11-19", "count": 19}
    assert get(client, tenant, key, "units/disk_bytes/date/2026-11-19").json()["count"] == 500  # max, not sum
    assert get(client, tenant, key, "units/api_calls/date/2026-11-18").json()["count"] == 0
    assert get(client, tenant, key, "units/api_calls/month/2026-11").json()["count"] == 19
    assert get(client, tenant, key, "units/api_calls/thismonth").json()["month"] == "2026-11"
    assert get(client, tenant, key, "units/date/2026-11-19").json() == {
        "date": "2026-11-19",
        "units": {"api_calls": 19, "disk_bytes": 500},
    }
    assert get(client, tenant, key, "units/month/2026-11").json()["units"] == {
        "api_calls": 19,
        "disk_bytes": 500,
    }

    response = client.delete(f"/api/v1/tenants/{tenant.slug}/units/api_calls/timestamp/{t1}", **auth(key))
    assert response.json()["deleted"] is True
    assert get(client, tenant, key, "units/api_calls/month/2026-11").json()["count"] == 7
    response = client.delete(f"/api/v1/tenants/{tenant.slug}/units/api_calls/timestamp/{t1}", **auth(key))
    assert response.status_code == 404


@time_machine.travel(NOW, tick=False)
def test_now_and_today(client, tenant, key, units):
    assert put(client, tenant, key, "api_calls", "now", "add", 4).status_code == 200
    assert put(client, tenant, key, "api_calls", "now", "add", 4).json()["count"] == 8
    body = get(client, tenant, key, "units/api_calls/today").json()
    assert body["date"] == "2026-11-20" and body["count"] == 8


def test_bad_input(client, tenant, key, units):
    response = put(client, tenant, key, "api_calls", 1700000000, "sub", 1)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "negative_count"
    assert (
        put(client, tenant, key, "api_calls", 1700000000, "multiply", 1).json()["error"]["code"]
        == "bad_method"
    )
    assert put(client, tenant, key, "api_calls", 1700000000, "add", -1).json()["error"]["code"] == "bad_count"
    assert (
        put(client, tenant, key, "api_calls", 1700000000, "add", "5").json()["error"]["code"] == "bad_count"
    )
    assert put(client, tenant, key, "api_calls", "soon", "add", 1).json()["error"]["code"] == "bad_timestamp"
    assert put(client, tenant, key, "nope", 1700000000, "add", 1).status_code == 404
    assert (
        put(client, tenant, key, "api_calls", 1700000000, "add", 1, rp="evil.example").json()["error"]["code"]
        == "unknown_rp"
    )
    assert get(client, tenant, key, "units/api_calls/date/2026-02-30").json()["error"]["code"] == "bad_date"


def test_other_tenants_key_is_refused(client, tenant, other_tenant, units):
    response = put(client, tenant, make_api_key(tenant=other_tenant), "api_calls", 1700000000, "add", 1)
    assert response.status_code == 403


@time_machine.travel(NOW, tick=False)
def test_usage_by_channel(client, tenant, key, units):
    make_rps(tenant, "login.example.com", "shop.example.com")
    t = ts("2026-11-10T00:00:00Z")
    put(client, tenant, key, "api_calls", t, "add", 100, rp="login.example.com")
    put(client, tenant, key, "api_calls", t + 60, "add", 50, rp="login.example.com")
    put(client, tenant, key, "disk_bytes", t, "direct", 9, rp="shop.example.com")
    put(client, tenant, key, "disk_bytes", t + 60, "direct", 4, rp="shop.example.com")
    auth_events_ingest(
        tenant=tenant,
        events=[
            {"id": "1", "rp": "login.example.com", "user_id": "a", "occurred_at": "2026-11-10T00:00:00Z"},
            {"id": "2", "rp": "login.example.com", "user_id": "a", "occurred_at": "2026-11-11T00:00:00Z"},
        ],
    )
    assert usage_by_channel(tenant=tenant, year=2026, month=11) == {
        "login.example.com": {"mau": 1, "auth_events": 2, "services": {"api_calls": 150}},
        "shop.example.com": {"mau": 0, "auth_events": 0, "services": {"disk_bytes": 9}},
    }
    assert get(client, tenant, key, "usage?month=2026-11").json()["channels"]["login.example.com"]["mau"] == 1
    assert usage_by_channel(tenant=tenant, year=2026, month=10) == {}
