"""Operator API: PUT/DELETE plan, GET tenant, POST rps/users, with the bad-input paths."""

import pytest
import time_machine

from accounts.models import ApiKey, hash_api_key
from licenses.selectors import license_get
from payments.invoicing.selectors import credit_balance
from tests.factories import TenantFactory

from .conftest import add_payment_account, add_payment_method, buy, jst

pytestmark = pytest.mark.django_db


def plan_url(tenant):
    return f"/api/v1/tenants/{tenant.slug}/plan"


def test_get_tenant_shows_plan_period_reservation_history(api_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    response = api_client.call("GET", f"/api/v1/tenants/{tenant.slug}/")
    assert response.status_code == 200
    body = response.json()
    assert body["plan"]["code"] == "business"
    assert body["period"] == {"start": "2027-02-28T15:00:00+00:00", "end": "2027-03-31T15:00:00+00:00"}
    assert body["reservation"] is None
    assert body["history"][0]["kind"] == "purchase" and body["history"][0]["difference_amount"] == 28_000


def test_put_plan_now_reference_case(api_client, paid_tenant):
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        response = api_client.call(
            "PUT",
            plan_url(paid_tenant),
            {"plan": "business", "proration_behavior": "always_invoice", "when": "now"},
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["result"] == "changed"
    assert body["proration"] == {
        "currency": "JPY",
        "unused_amount": -8_064,
        "remaining_amount": 9_032,
        "difference_amount": 968,
        "proration_behavior": "always_invoice",
    }
    assert body["plan"]["code"] == "business"


def test_put_plan_downgrade_now_records_credit(api_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        body = api_client.call(
            "PUT",
            plan_url(tenant),
            {"plan": "starter", "proration_behavior": "create_prorations", "when": "now"},
        ).json()
        assert body["proration"]["difference_amount"] == -968
        assert credit_balance(tenant=tenant) == 968


def test_put_plan_next_period_then_delete_reservation(api_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        body = api_client.call("PUT", plan_url(tenant), {"plan": "starter", "when": "next_period"}).json()
        assert body["result"] == "reserved"
        assert body["reservation"] == {"plan": "starter", "effective_at": "2027-03-31T15:00:00+00:00"}
        response = api_client.call("DELETE", f"{plan_url(tenant)}/reservation")
        assert response.status_code == 200 and response.json()["reservation"] is None
        again = api_client.call("DELETE", f"{plan_url(tenant)}/reservation")
    assert again.status_code == 409 and again.json()["error"]["code"] == "no_reservation"


def test_put_plan_on_free_purchases_with_payment_account(api_client, tenant):
    response = api_client.call("PUT", plan_url(tenant), {"plan": "starter", "when": "now"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "no_payment_account",
        "message": "Create a payment account first.",
    }
    add_payment_account(tenant)
    response = api_client.call("PUT", plan_url(tenant), {"plan": "starter", "when": "now"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_payment_method"
    assert license_get(tenant=tenant).plan.is_free
    add_payment_method(tenant)
    response = api_client.call("PUT", plan_url(tenant), {"plan": "starter", "when": "now"})
    assert response.json()["result"] == "purchased"
    assert license_get(tenant=tenant).plan.code == "starter"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"plan": "platinum"}, "unknown_plan"),
        ({"plan": "free-ish"}, "unknown_plan"),
        ({"plan": "premium-support"}, "unknown_plan"),
        ({}, "bad_request"),
        ({"plan": 3}, "bad_request"),
        ({"plan": "business", "proration_behavior": "sometimes"}, "bad_proration_behavior"),
        ({"plan": "business", "proration_behavior": 1}, "bad_proration_behavior"),
        ({"plan": "business", "when": "yesterday"}, "bad_when"),
    ],
)
def test_put_plan_bad_input_is_400_with_a_code(api_client, paid_tenant, body, code):
    response = api_client.call("PUT", plan_url(paid_tenant), body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert license_get(tenant=paid_tenant).plan.code == "starter"


def test_put_plan_wrong_currency(api_client):
    tenant = TenantFactory(currency="USD", country="US")
    from licenses.models import Plan

    Plan.objects.filter(code="business", currency="USD").delete()
    response = api_client.call("PUT", plan_url(tenant), {"plan": "business"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "wrong_currency"


def test_put_plan_malformed_json(api_client, paid_tenant):
    response = api_client.call("PUT", plan_url(paid_tenant), raw_body="{not json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"


def test_tenant_key_cannot_touch_another_tenant(client, tenant, other_tenant):
    raw = ApiKey.generate_raw_key()
    ApiKey.objects.create(name="t", scope="tenant", tenant=tenant, prefix=raw[:8], key_hash=hash_api_key(raw))
    response = client.put(
        plan_url(other_tenant),
        data='{"plan": "starter"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 403


def test_register_rps_and_users_until_the_limit(api_client, tenant):
    rps = f"/api/v1/tenants/{tenant.slug}/rps"
    first = api_client.call("POST", rps, {"rp_id": "login.example.com", "name": "Login"})
    assert first.status_code == 201 and first.json()["rp_id"] == "login.example.com"
    second = api_client.call("POST", rps, {"rp_id": "two.example.com"})
    assert second.status_code == 409
    assert second.json()["error"] == {
        "code": "limit_exceeded",
        "message": "The Free license allows at most 1 registered RPs. Update the license to register more.",
    }
    users = f"/api/v1/tenants/{tenant.slug}/users"
    assert api_client.call("POST", users, {"user_id": "alice"}).status_code == 201
    assert (
        api_client.call("POST", users, {"user_id": "alice"}).json()["error"]["code"] == "already_registered"
    )
    assert api_client.call("POST", users, {"user_id": ""}).json()["error"]["code"] == "bad_request"


def test_user_limit_in_the_api(api_client, tenant):
    from accounts.models import EndUser

    EndUser.objects.bulk_create(EndUser(tenant=tenant, user_id=f"u{i}") for i in range(100))
    response = api_client.call("POST", f"/api/v1/tenants/{tenant.slug}/users", {"user_id": "u100"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "limit_exceeded"
    assert "at most 100 registered users" in response.json()["error"]["message"]
