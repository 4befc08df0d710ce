"""Bad input to the operator API is a 4xx with a JSON error code, never a 500 or an HTML page: the cases once seen
answering 500 or HTML on main (NUL bytes and lone surrogates in ids, counts of 2^63 and more, 10,000-character
ids, years 0, 1 and 9999, a 10 MB body), and the 10,000-event batch the API documents fits the body limit."""

import json

import pytest
import time_machine
from django.test import override_settings

from accounts.models import EndUser, RelyingParty
from metering.models import AuthEvent, MeteringUnit, MeterReading
from tests.metering.factories import auth, make_api_key, make_rps

pytestmark = pytest.mark.django_db
NOW = "2026-11-20T03:00:00Z"


@pytest.fixture
def key(tenant):
    make_rps(tenant, "login.example.com")
    MeteringUnit.objects.create(unit_name="api_calls", display_name="API calls", aggregation="sum")
    return make_api_key(tenant=tenant)


def call(client, method, path, key, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return getattr(client, method.lower())(path, data=data, content_type="application/json", **auth(key))


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str)
    if code is not None:
        assert error["code"] == code, error
    return error


def test_nul_bytes_in_json_strings_are_a_400(client, tenant, key):
    base = f"/api/v1/tenants/{tenant.slug}"
    assert_error(call(client, "POST", f"{base}/rps", key, {"rp_id": "a\x00b"}), 400, "bad_request")
    assert_error(call(client, "POST", f"{base}/users", key, {"user_id": "\x00"}), 400, "bad_request")
    assert_error(call(client, "PUT", f"{base}/plan", key, {"plan": "starter\x00"}), 400, "bad_request")
    events = [
        {"id": "e\x001", "rp": "login.example.com", "user_id": "u", "occurred_at": "2026-11-02T10:00:00Z"}
    ]
    assert_error(call(client, "POST", f"{base}/auth-events", key, {"events": events}), 400, "bad_request")
    put = call(
        client,
        "PUT",
        f"{base}/units/api_calls/timestamp/1700000000",
        key,
        {"method": "add", "count": 1, "rp": "login\x00"},
    )
    assert_error(put, 400, "bad_request")
    assert not AuthEvent.objects.exists() and not MeterReading.objects.exists()
    assert RelyingParty.objects.filter(tenant=tenant).count() == 1 and not EndUser.objects.exists()


def test_lone_surrogates_are_malformed_json(client, tenant, key):
    base = f"/api/v1/tenants/{tenant.slug}"
    body = '{"events": [{"id": "\\ud800", "rp": "login.example.com", "user_id": "u", "occurred_at": "2026-11-02T10:00:00Z"}]}'
    assert_error(call(client, "POST", f"{base}/auth-events", key, raw=body), 400, "malformed_json")
    assert_error(
        call(client, "POST", f"{base}/users", key, raw='{"user_id": "\\udfff"}'), 400, "malformed_json"
    )
    raw_surrogate = b'{"user_id": "\xed\xa0\x80"}'  # a surrogate encoded as UTF-8 bytes: not valid UTF-8
    assert_error(call(client, "POST", f"{base}/users", key, raw=raw_surrogate), 400, "malformed_json")
    assert not EndUser.objects.exists()


@pytest.mark.parametrize("count", [2**63, 2**63 + 1, 2**64, 10**30, -1, 1.5, True, "5", None])
def test_counts_outside_a_bigint_are_bad_count(client, tenant, key, count):
    response = call(
        client,
        "PUT",
        f"/api/v1/tenants/{tenant.slug}/units/api_calls/timestamp/1700000000",
        key,
        raw=f'{{"method": "add", "count": {json.dumps(count)}}}',
    )
    assert_error(response, 400, "bad_count")
    assert not MeterReading.objects.exists()


def test_the_largest_count_is_stored_and_adding_past_it_is_a_409(client, tenant, key):
    url = f"/api/v1/tenants/{tenant.slug}/units/api_calls/timestamp/1700000000"
    response = call(client, "PUT", url, key, {"method": "direct", "count": 2**63 - 1})
    assert response.status_code == 200 and response.json()["count"] == 2**63 - 1
    assert_error(call(client, "PUT", url, key, {"method": "add", "count": 1}), 409, "count_out_of_range")
    assert MeterReading.objects.get().count == 2**63 - 1


def test_ten_thousand_character_ids(client, tenant, key):
    base = f"/api/v1/tenants/{tenant.slug}"
    long = "x" * 10_000
    assert_error(call(client, "POST", f"{base}/rps", key, {"rp_id": long}), 400, "bad_request")
    assert_error(call(client, "POST", f"{base}/rps", key, {"rp_id": "ok.example.com", "name": long}), 400)
    assert_error(call(client, "POST", f"{base}/users", key, {"user_id": long}), 400, "bad_request")
    assert_error(call(client, "PUT", f"{base}/plan", key, {"plan": long}), 400, "bad_request")
    events = [{"id": long, "rp": "login.example.com", "user_id": long, "occurred_at": "2026-11-02T10:00:00Z"}]
    error = assert_error(
        call(client, "POST", f"{base}/auth-events", key, {"events": events}), 400, "invalid_events"
    )
    assert [e["field"] for e in error["errors"]] == ["id", "user_id"]
    assert_error(
        call(client, "PUT", f"{base}/units/api_calls/now", key, {"method": "add", "count": 1, "rp": long}),
        400,
        "unknown_rp",
    )
    assert_error(client.get(f"{base}/units/{'u' * 10_000}/today", **auth(key)), 400, "bad_request")
    assert_error(client.get(f"{base}/invoices/{long}/receipt.pdf", **auth(key)), 400)
    assert_error(client.delete(f"{base}/units/api_calls/timestamp/1700000000?rp={long}", **auth(key)), 400)
    assert_error(client.get(f"/api/v1/tenants/{'t' * 10_000}/mau", **auth(make_api_key())), 404, "not_found")


@pytest.mark.parametrize(
    "day",
    [
        "0000-01-01",
        "0001-01-01",
        "1969-12-31",
        "9999-12-31",
        "9999-01-01",
        "10000-01-01",
        "2026-02-30",
        "2026-1-1",
        "today",
    ],
)
def test_dates_outside_1970_to_9998_are_bad_date(client, tenant, key, day):
    base = f"/api/v1/tenants/{tenant.slug}"
    assert_error(client.get(f"{base}/units/api_calls/date/{day}", **auth(key)), 400, "bad_date")
    assert_error(client.get(f"{base}/units/date/{day}", **auth(key)), 400, "bad_date")
    assert_error(
        client.get(f"{base}/daily-actives", {"from": day, "to": "2026-11-01"}, **auth(key)), 400, "bad_date"
    )
    assert_error(
        client.get(f"{base}/daily-actives", {"from": "2026-11-01", "to": day}, **auth(key)), 400, "bad_date"
    )


@pytest.mark.parametrize(
    "month",
    ["0000-01", "0001-01", "1969-12", "9999-12", "9999-01", "2026-00", "2026-13", "2026-1", "thismonth"],
)
def test_months_outside_1970_to_9998_are_bad_month(client, tenant, key, month):
    base = f"/api/v1/tenants/{tenant.slug}"
    assert_error(client.get(f"{base}/units/api_calls/month/{month}", **auth(key)), 400, "bad_month")
    assert_error(client.get(f"{base}/units/month/{month}", **auth(key)), 400, "bad_month")
    assert_error(client.get(f"{base}/mau", {"month": month}, **auth(key)), 400, "bad_month")
    assert_error(client.get(f"{base}/usage", {"month": month}, **auth(key)), 400, "bad_month")


def test_the_first_and_last_accepted_days_and_months_answer(client, tenant, key):
    base = f"/api/v1/tenants/{tenant.slug}"
    for path in [
        "units/api_calls/date/1970-01-01",
        "units/api_calls/date/9998-12-31",
        "units/date/9998-12-31",
        "units/api_calls/month/1970-01",
        "units/api_calls/month/9998-12",
        "units/month/9998-12",
        "mau?month=9998-12",
        "usage?month=1970-01",
        "daily-actives?from=9998-12-30&to=9998-12-31",
    ]:
        response = client.get(f"{base}/{path}", **auth(key))
        assert response.status_code == 200, (path, response.content)


@pytest.mark.parametrize(
    "timestamp",
    ["-1", "-62135596800", "253402300799", "253370764800", "99999999999999999999", "1e9", "soon", "0x10"],
)
def test_timestamps_outside_1970_to_9998_are_bad_timestamp(client, tenant, key, timestamp):
    url = f"/api/v1/tenants/{tenant.slug}/units/api_calls/timestamp/{timestamp}"
    assert_error(call(client, "PUT", url, key, {"method": "add", "count": 1}), 400, "bad_timestamp")
    assert_error(client.delete(url, **auth(key)), 400, "bad_timestamp")
    assert not MeterReading.objects.exists()


def test_the_last_accepted_timestamp_is_stored(client, tenant, key):
    url = f"/api/v1/tenants/{tenant.slug}/units/api_calls/timestamp/253370764799"
    assert call(client, "PUT", url, key, {"method": "add", "count": 1}).status_code == 200
    assert (
        client.get(f"/api/v1/tenants/{tenant.slug}/units/api_calls/date/9998-12-31", **auth(key)).status_code
        == 200
    )


def test_years_0_1_and_9999_in_event_timestamps(client, tenant, key):
    events = [
        {"id": f"e{i}", "rp": "login.example.com", "user_id": "u", "occurred_at": at}
        for i, at in enumerate(
            [
                "0000-01-01T00:00:00Z",
                "0001-01-01T00:00:00Z",
                "9999-12-31T23:59:59Z",
                "0001-01-01T00:00:00+09:00",
            ]
        )
    ]
    with time_machine.travel(NOW, tick=False):
        response = call(client, "POST", f"/api/v1/tenants/{tenant.slug}/auth-events", key, {"events": events})
    error = assert_error(response, 400, "invalid_events")
    assert [e["index"] for e in error["errors"]] == [0, 1, 2, 3]
    assert not AuthEvent.objects.exists()


def test_a_10_mb_body_is_413_payload_too_large_with_the_limit(client, tenant, key, settings):
    body = '{"events": [' + ",".join(['{"id": "%s"}' % ("x" * 100)] * 100_000) + "]}"
    assert len(body) > 10_000_000
    error = assert_error(
        call(client, "POST", f"/api/v1/tenants/{tenant.slug}/auth-events", key, raw=body),
        413,
        "payload_too_large",
    )
    assert "8,388,608 bytes" in error["message"] and error["limit_bytes"] == settings.API_MAX_BODY_BYTES
    # The same for every write, and before the body is read for an idempotency key.
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/users",
        data=body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k1",
        **auth(key),
    )
    assert_error(response, 413, "payload_too_large")
    # A form-encoded body is parsed by Django itself (the NUL-byte check reads it): still JSON.
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/users",
        data="a=" + "x" * 9_000_000,
        content_type="application/x-www-form-urlencoded",
        **auth(key),
    )
    assert_error(response, 413, "payload_too_large")


@time_machine.travel(NOW, tick=False)
def test_the_documented_10000_event_batch_fits_the_body_limit(client, tenant, key):
    events = [
        {
            "id": f"evt-{i:06d}-{'a' * 180}",
            "rp": "login.example.com",
            "user_id": f"user-{i:06d}-{'b' * 230}",
            "occurred_at": "2026-11-02T10:00:00.123456+09:00",
        }
        for i in range(10_000)
    ]
    body = json.dumps({"events": events})
    assert 5_300_000 < len(body) < 8 * 2**20  # about 5.5 MB: more than Django's default limit of 2.5 MB
    response = call(client, "POST", f"/api/v1/tenants/{tenant.slug}/auth-events", key, raw=body)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["accepted"] == 10_000


@override_settings(API_MAX_BODY_BYTES=1000, DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_the_body_limit_is_a_setting(client, tenant, key):
    events = [
        {"id": f"e{i}", "rp": "login.example.com", "user_id": "u", "occurred_at": "2026-11-02T10:00:00Z"}
        for i in range(20)
    ]
    error = assert_error(
        call(client, "POST", f"/api/v1/tenants/{tenant.slug}/auth-events", key, {"events": events}),
        413,
        "payload_too_large",
    )
    assert "1,000 bytes" in error["message"]


def test_bodies_that_are_not_a_json_object(client, tenant, key):
    url = f"/api/v1/tenants/{tenant.slug}/users"
    for raw in ["[]", '"alice"', "1", "null", "{", '{"user_id": NaN}', "\xff"]:
        assert_error(call(client, "POST", url, key, raw=raw), 400, "malformed_json")
    assert_error(call(client, "POST", url, key, raw=""), 400)
    form = b'--xx\r\nContent-Disposition: form-data; name="user_id"\r\n\r\nalice\r\n--xx--\r\n'
    for content_type in ["multipart/form-data; boundary=xx", "multipart/form-data"]:
        response = client.generic("POST", url, form, content_type=content_type, **auth(key))
        assert_error(response, 400)
    assert_error(
        client.generic(
            "POST", url, b"user_id=alice", content_type="application/x-www-form-urlencoded", **auth(key)
        ),
        400,
        "malformed_json",
    )
    assert_error(call(client, "POST", url, key, {"user_id": ["alice"]}), 400, "bad_request")


def test_unknown_urls_methods_and_hosts_are_json(client, tenant, key):
    assert_error(client.get("/api/v1/nothing-here", **auth(key)), 404, "not_found")
    assert_error(client.get("/api/v1/", **auth(key)), 404, "not_found")
    assert_error(
        client.get(f"/api/v1/tenants/{tenant.slug}/units/api_calls/timestamp/1/extra", **auth(key)), 404
    )
    response = client.patch(f"/api/v1/tenants/{tenant.slug}/plan", **auth(key))
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "PUT"
    assert_error(client.get(f"/api/v1/tenants/{tenant.slug}/mau", HTTP_HOST="evil.example", **auth(key)), 400)


def test_a_crash_is_a_json_500_with_a_code(client, tenant, key, monkeypatch):
    import metering.selectors

    def boom(**kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(metering.selectors, "mau_count", boom)
    error = assert_error(client.get(f"/api/v1/tenants/{tenant.slug}/mau", **auth(key)), 500, "internal_error")
    assert "kaboom" not in error["message"]
