import json

import pytest
import time_machine

from metering.models import AuthEvent, MauCounter, MauFirstSeen
from metering.selectors import mau_by_rp, mau_count
from tests.factories import TenantFactory
from tests.metering.factories import auth, event, make_api_key, make_rps

pytestmark = pytest.mark.django_db
NOW = "2026-11-20T03:00:00Z"


def post(client, tenant, raw, events):
    return client.post(
        f"/api/v1/tenants/{tenant.slug}/auth-events",
        json.dumps({"events": events}),
        content_type="application/json",
        **auth(raw),
    )


@pytest.fixture
def api(tenant):
    make_rps(tenant, "login.example.com", "shop.example.com")
    return make_api_key(tenant=tenant)


@time_machine.travel(NOW, tick=False)
def test_ingest_counts_unique_users_and_answers_accepted_and_duplicates(client, tenant, api):
    events = [
        event("e1", "alice", "2026-11-02T10:00:00Z"),
        event("e2", "alice", "2026-11-03T10:00:00Z", rp="shop.example.com"),
        event("e3", "bob", "2026-11-03T11:00:00Z"),
        event("e3", "bob", "2026-11-03T11:00:00Z"),  # repeated in the same batch
    ]
    response = post(client, tenant, api, events)
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 3, "duplicates": 1, "late": 0, "late_months": []}
    assert mau_count(tenant=tenant, year=2026, month=11) == 2
    assert mau_by_rp(tenant=tenant, year=2026, month=11) == {"login.example.com": 2, "shop.example.com": 1}

    # A replay of the whole batch changes nothing.
    response = post(client, tenant, api, events)
    assert response.json() == {"accepted": 0, "duplicates": 4, "late": 0, "late_months": []}
    assert mau_count(tenant=tenant, year=2026, month=11) == 2
    assert AuthEvent.objects.filter(tenant=tenant).count() == 3

    response = client.get(f"/api/v1/tenants/{tenant.slug}/mau?month=2026-11", **auth(api))
    assert response.json() == {
        "month": "2026-11",
        "mau": 2,
        "max_mau": None,
        "by_rp": {"login.example.com": 2, "shop.example.com": 1},
    }


@time_machine.travel(NOW, tick=False)
def test_month_is_the_tenants_calendar_month_tokyo_vs_utc(client, api, tenant):
    utc_tenant = TenantFactory(time_zone="UTC")
    make_rps(utc_tenant, "login.example.com")
    utc_key = make_api_key(tenant=utc_tenant)
    # 2026-10-31 15:30 UTC is 2026-11-01 00:30 in Tokyo.
    boundary = [event("b1", "carol", "2026-10-31T15:30:00Z"), event("b2", "dave", "2026-10-31T14:59:59Z")]
    assert post(client, tenant, api, boundary).status_code == 200
    assert post(client, utc_tenant, utc_key, boundary).status_code == 200
    days = client.get(
        f"/api/v1/tenants/{tenant.slug}/daily-actives?from=2026-10-31&to=2026-11-01", **auth(api)
    )
    assert days.json() == {"days": [{"date": "2026-10-31", "dau": 1}, {"date": "2026-11-01", "dau": 1}]}
    days = client.get(
        f"/api/v1/tenants/{utc_tenant.slug}/daily-actives?from=2026-10-31&to=2026-11-01", **auth(utc_key)
    )
    assert days.json() == {"days": [{"date": "2026-10-31", "dau": 2}, {"date": "2026-11-01", "dau": 0}]}
    bad = client.get(
        f"/api/v1/tenants/{tenant.slug}/daily-actives?from=2026-11-02&to=2026-11-01", **auth(api)
    )
    assert bad.json()["error"]["code"] == "bad_range"
    assert mau_count(tenant=tenant, year=2026, month=11) == 1  # Tokyo: carol in November
    assert mau_count(tenant=tenant, year=2026, month=10) == 1  # dave still October
    assert mau_count(tenant=utc_tenant, year=2026, month=11) == 0
    assert mau_count(tenant=utc_tenant, year=2026, month=10) == 2


@time_machine.travel(NOW, tick=False)
def test_bad_events_get_a_per_event_error_list_and_nothing_is_stored(client, tenant, api):
    events = [
        event("ok-1", "alice", "2026-11-02T10:00:00Z"),
        event("x-rp", "alice", "2026-11-02T10:00:00Z", rp="evil.example.com"),
        event("x-ts", "alice", "yesterday"),
        event("x-naive", "alice", "2026-11-02T10:00:00"),
        {"id": "x-user", "rp": "login.example.com", "occurred_at": "2026-11-02T10:00:00Z"},
        event("x-future", "alice", "2026-11-20T03:06:00Z"),
        event("ok-2", "bob", "2026-11-20T03:04:59Z"),  # less than 5 minutes ahead is fine
        "not an object",
    ]
    response = post(client, tenant, api, events)
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid_events"
    assert "nothing was stored" in body["message"]
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (1, "rp"),
        (2, "occurred_at"),
        (3, "occurred_at"),
        (4, "user_id"),
        (5, "occurred_at"),
        (7, None),
    ]
    assert "Unknown RP 'evil.example.com'" in body["errors"][0]["message"]
    assert "more than 5 minutes in the future" in body["errors"][4]["message"]
    assert not AuthEvent.objects.exists()
    assert not MauFirstSeen.objects.exists()
    assert not MauCounter.objects.exists()


def test_more_than_10000_events_is_refused(client, tenant, api):
    events = [event(f"e{i}", "u", "2026-11-02T10:00:00Z") for i in range(10_001)]
    response = post(client, tenant, api, events)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_events"
    assert not AuthEvent.objects.exists()


def test_missing_events_and_bad_json(client, tenant, api):
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/auth-events", "{", content_type="application/json", **auth(api)
    )
    assert response.json()["error"]["code"] == "malformed_json"
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/auth-events", "{}", content_type="application/json", **auth(api)
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_events"


def test_keys_revoked_401_other_tenant_403_platform_ok(client, tenant, other_tenant, api):
    events = [event("e1", "alice", "2026-11-02T10:00:00Z")]
    assert post(client, tenant, make_api_key(tenant=tenant, revoked=True), events).status_code == 401
    assert post(client, tenant, "bp_wrong", events).status_code == 401
    response = post(client, tenant, make_api_key(tenant=other_tenant), events)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert (
        client.get(
            f"/api/v1/tenants/{tenant.slug}/mau", **auth(make_api_key(tenant=other_tenant))
        ).status_code
        == 403
    )
    assert not AuthEvent.objects.exists()
    with time_machine.travel(NOW, tick=False):
        assert post(client, tenant, make_api_key(), events).status_code == 200
    assert AuthEvent.objects.filter(tenant=tenant).count() == 1


def test_mau_month_parameter_is_checked(client, tenant, api):
    response = client.get(f"/api/v1/tenants/{tenant.slug}/mau?month=2026-13", **auth(api))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_month"
