"""Who may defer or waive proration, and why credit can never exceed what was billed (no free upgrades, no
minted credit through the operator API)."""

import pytest
import time_machine

from accounts.models import ApiKey, hash_api_key
from licenses.models import ProrationItem
from licenses.selectors import license_get, plan_get
from licenses.services import license_change_now
from payments.invoicing.selectors import credit_balance

from .conftest import jst

pytestmark = pytest.mark.django_db


def key_client(client, *, tenant=None):
    raw = ApiKey.generate_raw_key()
    ApiKey.objects.create(
        name="k",
        scope=ApiKey.Scope.TENANT if tenant else ApiKey.Scope.PLATFORM,
        tenant=tenant,
        prefix=raw[:8],
        key_hash=hash_api_key(raw),
    )

    def call(body):
        import json

        return client.put(
            f"/api/v1/tenants/{call.tenant.slug}/plan",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )

    return call


def owed(tenant):
    """What the tenant has been billed (or will be) for plan changes, minus the credit it got back."""
    items = ProrationItem.objects.filter(tenant=tenant).exclude(plan_change__kind="purchase")
    return sum(item.amount_minor for item in items) - credit_balance(tenant=tenant)


@pytest.mark.parametrize("behavior", ["none", "create_prorations"])
def test_a_tenant_key_cannot_defer_or_waive_proration(client, paid_tenant, behavior):
    call = key_client(client, tenant=paid_tenant)
    call.tenant = paid_tenant
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        response = call({"plan": "enterprise", "proration_behavior": behavior, "when": "now"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "proration_behavior_forbidden"
    assert license_get(tenant=paid_tenant).plan.code == "starter"


def test_tenant_key_ping_pong_mints_no_credit(client, paid_tenant):
    """Starter → Enterprise → Starter, three times, 10 of 31 days left: every upgrade is invoiced, every
    downgrade credits back exactly that, so the tenant ends owing nothing and holding no free credit."""
    call = key_client(client, tenant=paid_tenant)
    call.tenant = paid_tenant
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        for _ in range(3):
            up = call({"plan": "enterprise", "when": "now"})
            assert up.status_code == 200 and up.json()["proration"]["difference_amount"] == 40_323
            down = call({"plan": "starter", "when": "now"})
            assert down.status_code == 200 and down.json()["proration"]["difference_amount"] == -40_323
    assert owed(paid_tenant) == 0
    assert credit_balance(tenant=paid_tenant) == 3 * 40_323  # exactly the three upgrades invoiced


def test_an_operator_upgrade_without_proration_credits_nothing_on_the_way_back(client, paid_tenant):
    """The operator may give Enterprise for the rest of the month free (`none`); downgrading again then credits
    only what was billed for the period (Starter), i.e. nothing."""
    call = key_client(client)
    call.tenant = paid_tenant
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        for _ in range(3):
            up = call({"plan": "enterprise", "proration_behavior": "none", "when": "now"})
            assert up.status_code == 200 and up.json()["proration"]["difference_amount"] == 0
            down = call({"plan": "starter", "when": "now"})  # always_invoice
            assert down.status_code == 200 and down.json()["proration"]["difference_amount"] == 0
    assert credit_balance(tenant=paid_tenant) == 0 and owed(paid_tenant) == 0


def test_after_a_free_upgrade_moving_on_is_prorated_against_the_billed_plan(paid_tenant):
    """Starter billed; Business given free (`none`); then Enterprise now: the difference to Starter is billed."""
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        license_change_now(
            tenant=paid_tenant,
            plan=plan_get(code="business", currency="JPY"),
            proration_behavior="none",
            by_operator=True,
        )
        change = license_change_now(
            tenant=paid_tenant,
            plan=plan_get(code="enterprise", currency="JPY"),
            proration_behavior="always_invoice",
        )
    assert (change.unused_amount, change.remaining_amount, change.difference_amount) == (
        -8_064,
        48_387,
        40_323,
    )
    descriptions = list(
        ProrationItem.objects.filter(plan_change=change).values_list("description", flat=True)
    )
    assert descriptions[0].startswith("Unused time on Starter")
    assert license_get(tenant=paid_tenant).billed_plan.code == "enterprise"


def test_the_billed_plan_follows_the_period(paid_tenant):
    from licenses.services import licenses_roll_over

    with time_machine.travel(jst(2027, 3, 22), tick=False):
        license_change_now(
            tenant=paid_tenant,
            plan=plan_get(code="business", currency="JPY"),
            proration_behavior="none",
            by_operator=True,
        )
    assert license_get(tenant=paid_tenant).billed_plan.code == "starter"
    licenses_roll_over(tenant=paid_tenant, at=jst(2027, 4, 1, 0, 5))
    assert license_get(tenant=paid_tenant).billed_plan.code == "business"  # April's invoice bills Business
