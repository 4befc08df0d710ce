"""`Idempotency-Key` on the operator API's writes that are not idempotent by themselves: a retry replays the first
answer and never counts twice — after a lost answer, after a 500, or racing the first request."""

import json
import threading
import time

import pytest
import time_machine
from django.db import connection
from django.test import Client

from accounts.api_idempotency import idempotency_keys_purge
from accounts.models import ApiIdempotencyKey, EndUser, RelyingParty
from licenses.models import PlanChange
from metering.models import MeteringUnit, MeterReading
from tests.factories import TenantFactory
from tests.licenses.conftest import add_payment_account, add_payment_method
from tests.metering.factories import auth, make_api_key

NOW = "2026-11-20T03:00:00Z"


@pytest.fixture
def unit(db):
    return MeteringUnit.objects.create(unit_name="api_calls", display_name="API calls", aggregation="sum")


def add(client, tenant, key, count=5, *, idempotency_key=None, method="add", timestamp=1700000000, raw=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key is not None else {}
    return client.put(
        f"/api/v1/tenants/{tenant.slug}/units/api_calls/timestamp/{timestamp}",
        raw if raw is not None else json.dumps({"method": method, "count": count}),
        content_type="application/json",
        **headers,
        **auth(key),
    )


def stored_count():
    return sum(MeterReading.objects.values_list("count", flat=True))


@pytest.mark.django_db
def test_a_retry_with_the_same_key_replays_the_answer_and_counts_once(client, tenant, unit):
    key = make_api_key(tenant=tenant)
    first = add(client, tenant, key, idempotency_key="k-1")
    assert first.status_code == 200 and first.json()["count"] == 5
    assert "Idempotent-Replayed" not in first
    again = add(client, tenant, key, idempotency_key="k-1")
    assert again.status_code == 200 and again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    # The same JSON with other spacing and key order is the same request.
    same = add(client, tenant, key, idempotency_key="k-1", raw='{ "count": 5,  "method": "add" }')
    assert same.status_code == 200 and same.content == first.content
    assert stored_count() == 5
    # A new key is a new write; no key at all is too.
    assert add(client, tenant, key, idempotency_key="k-2").json()["count"] == 10
    assert add(client, tenant, key).json()["count"] == 15
    assert add(client, tenant, key).json()["count"] == 20
    assert ApiIdempotencyKey.objects.count() == 2


@pytest.mark.django_db
def test_the_same_key_for_a_different_request_is_422_and_writes_nothing(client, tenant, unit):
    key = make_api_key(tenant=tenant)
    assert add(client, tenant, key, 5, idempotency_key="k").status_code == 200
    for response in [
        add(client, tenant, key, 6, idempotency_key="k"),
        add(client, tenant, key, 5, idempotency_key="k", method="sub"),
        add(client, tenant, key, 5, idempotency_key="k", timestamp=1700000060),
    ]:
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert stored_count() == 5


@pytest.mark.django_db
def test_keys_belong_to_one_api_key(client, tenant, unit):
    mine, other = make_api_key(tenant=tenant), make_api_key(tenant=tenant)
    assert add(client, tenant, mine, idempotency_key="shared").json()["count"] == 5
    assert add(client, tenant, other, idempotency_key="shared").json()["count"] == 10


@pytest.mark.django_db
def test_errors_are_replayed_too_but_not_authentication_failures(client, tenant, unit):
    key = make_api_key(tenant=tenant)
    refused = add(client, tenant, key, 3, method="sub", idempotency_key="sub-1")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "negative_count"
    add(client, tenant, key, 10)
    again = add(client, tenant, key, 3, method="sub", idempotency_key="sub-1")
    assert again.status_code == 409 and again["Idempotent-Replayed"] == "true"
    assert stored_count() == 10
    assert add(client, tenant, "bp_wrong", idempotency_key="x").status_code == 401
    assert add(client, tenant, make_api_key(tenant=TenantFactory()), idempotency_key="x").status_code == 403
    assert not ApiIdempotencyKey.objects.filter(key="x").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", " ", "x" * 256, "clé", "a\tb"])
def test_a_bad_key_is_400(client, tenant, unit, value):
    response = add(client, tenant, make_api_key(tenant=tenant), idempotency_key=value)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_idempotency_key"
    assert not MeterReading.objects.exists()


@pytest.mark.django_db
def test_registrations_and_plan_changes_with_a_key(client, tenant, unit):
    key = make_api_key()
    url = f"/api/v1/tenants/{tenant.slug}"
    for _ in range(2):
        response = client.post(
            f"{url}/rps",
            json.dumps({"rp_id": "login.example.com"}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="rp-1",
            **auth(key),
        )
        assert response.status_code == 201 and response.json()["rp_id"] == "login.example.com"
        response = client.post(
            f"{url}/users",
            json.dumps({"user_id": "alice"}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="user-1",
            **auth(key),
        )
        assert response.status_code == 201 and response.json()["user_id"] == "alice"
    assert (
        RelyingParty.objects.filter(tenant=tenant).count() == 1
        and EndUser.objects.filter(tenant=tenant).count() == 1
    )
    # Without a key the retry is a second registration: 409 already_registered.
    response = client.post(
        f"{url}/users", json.dumps({"user_id": "alice"}), content_type="application/json", **auth(key)
    )
    assert response.status_code == 409

    add_payment_account(tenant)
    add_payment_method(tenant)
    answers = [
        client.put(
            f"{url}/plan",
            json.dumps({"plan": "starter"}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="buy-starter",
            **auth(key),
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200] and answers[0].content == answers[1].content
    assert answers[0].json()["result"] == "purchased"
    assert PlanChange.objects.filter(tenant=tenant, kind="purchase").count() == 1


@pytest.mark.django_db
def test_a_retry_after_a_500_runs_again_and_counts_once(client, tenant, unit, monkeypatch):
    """The first attempt fails after its write (here: building the answer); its transaction, write included,
    is rolled back, nothing is kept for the key, and the retry writes once."""
    import metering.api_views

    key = make_api_key(tenant=tenant)
    real = metering.api_views._reading
    calls = []

    def fails_once(reading):
        calls.append(reading.count)
        if len(calls) == 1:
            raise RuntimeError("the answer is lost")
        return real(reading)

    monkeypatch.setattr(metering.api_views, "_reading", fails_once)
    first = add(client, tenant, key, idempotency_key="after-500")
    assert first.status_code == 500 and first.json()["error"]["code"] == "internal_error"
    assert calls == [5]  # the write ran …
    assert stored_count() == 0 and not ApiIdempotencyKey.objects.exists()  # … and was rolled back
    retry = add(client, tenant, key, idempotency_key="after-500")
    assert retry.status_code == 200 and retry.json()["count"] == 5
    assert add(client, tenant, key, idempotency_key="after-500").json()["count"] == 5
    assert stored_count() == 5


@pytest.mark.django_db
def test_keys_expire_after_24_hours(client, tenant, unit):
    key = make_api_key(tenant=tenant)
    with time_machine.travel(NOW, tick=False):
        assert add(client, tenant, key, idempotency_key="daily").json()["count"] == 5
    with time_machine.travel("2026-11-21T02:59:59Z", tick=False):
        assert add(client, tenant, key, idempotency_key="daily").json()["count"] == 5
    with time_machine.travel("2026-11-21T03:00:01Z", tick=False):
        assert add(client, tenant, key, idempotency_key="daily").json()["count"] == 10  # a new request
        assert add(client, tenant, key, idempotency_key="old").json()["count"] == 15
    with time_machine.travel("2026-11-22T03:00:02Z", tick=False):
        assert idempotency_keys_purge() == 2
    assert not ApiIdempotencyKey.objects.exists()


def _slow_meter_writes(monkeypatch, seconds):
    """Each meter write holds its transaction a while, so that concurrent requests overlap for sure."""
    import metering.services

    real = metering.services.meter_reading_put

    def slow(**kwargs):
        reading = real(**kwargs)
        time.sleep(seconds)
        return reading

    monkeypatch.setattr(metering.services, "meter_reading_put", slow)


def _race(tenant, key, n, idempotency_key):
    barrier = threading.Barrier(n)
    answers = []

    def send():
        try:
            barrier.wait()
            answers.append(add(Client(), tenant, key, idempotency_key=idempotency_key))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_write_once(monkeypatch):
    """Four requests with the same key at the same moment: one writes, the others wait for it on the unique
    constraint and replay its answer. (Without the constraint every one of them adds: 20.)"""
    tenant = TenantFactory()
    MeteringUnit.objects.create(unit_name="api_calls", display_name="API calls", aggregation="sum")
    key = make_api_key(tenant=tenant)
    _slow_meter_writes(monkeypatch, 0.5)
    answers = _race(tenant, key, 4, "race-1")
    assert sorted(a.status_code for a in answers) == [200] * 4
    assert {a.json()["count"] for a in answers} == {5}
    assert sum(a.get("Idempotent-Replayed") == "true" for a in answers) == 3
    assert stored_count() == 5
    assert ApiIdempotencyKey.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_request_waiting_too_long_for_the_first_gets_409(monkeypatch):
    import accounts.api_idempotency

    tenant = TenantFactory()
    MeteringUnit.objects.create(unit_name="api_calls", display_name="API calls", aggregation="sum")
    key = make_api_key(tenant=tenant)
    monkeypatch.setattr(accounts.api_idempotency, "WAIT_SECONDS", 1)
    _slow_meter_writes(monkeypatch, 2.5)
    answers = _race(tenant, key, 2, "race-2")
    assert sorted(a.status_code for a in answers) == [200, 409]
    busy = next(a for a in answers if a.status_code == 409)
    assert busy.json()["error"]["code"] == "idempotency_key_in_progress" and busy["Retry-After"] == "1"
    assert stored_count() == 5
    assert add(Client(), tenant, key, idempotency_key="race-2")["Idempotent-Replayed"] == "true"
    assert stored_count() == 5
