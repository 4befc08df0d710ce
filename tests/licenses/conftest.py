from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import ApiKey, hash_api_key
from licenses.selectors import plan_get
from licenses.services import license_purchase
from payments.models import PaymentAccount

TOKYO = ZoneInfo("Asia/Tokyo")


def jst(*args):
    return datetime(*args, tzinfo=TOKYO)


def add_payment_account(tenant):
    return PaymentAccount.objects.get_or_create(
        tenant=tenant,
        defaults={
            "stripe_customer_id": f"cus_test_{tenant.slug}",
            "name": tenant.name,
            "email": "payer@example.test",
        },
    )[0]


def add_payment_method(tenant):
    """A registered payment method (a card summary row) unless the tenant already has a card or bank transfer."""
    from payments.models import PaymentMethod, PaymentSettings

    if (
        PaymentMethod.objects.filter(tenant=tenant).exists()
        or PaymentSettings.objects.filter(tenant=tenant, method="bank_transfer").exists()
    ):
        return
    PaymentMethod.objects.create(
        tenant=tenant,
        stripe_payment_method_id=f"pm_local_{tenant.pk}",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
        is_default=True,
    )


def buy(tenant, code, at):
    """Purchase `code` at instant `at` (travelling there), with a payment account and a payment method."""
    add_payment_account(tenant)
    add_payment_method(tenant)
    with time_machine.travel(at, tick=False):
        return license_purchase(tenant=tenant, plan=plan_get(code=code, currency=tenant.currency))


@pytest.fixture
def paid_tenant(tenant):
    """The tenant on Starter (¥25,000) since 1 Mar 2027 00:00 JST; period 1 Mar – 1 Apr."""
    buy(tenant, "starter", jst(2027, 3, 1))
    return tenant


@pytest.fixture
def api_client(client):
    """A client with a platform API key: api_client.call(method, path, json)."""

    raw = ApiKey.generate_raw_key()
    ApiKey.objects.create(name="ops", scope=ApiKey.Scope.PLATFORM, prefix=raw[:8], key_hash=hash_api_key(raw))

    def call(method, path, body=None, raw_body=None):
        import json

        data = raw_body if raw_body is not None else (json.dumps(body) if body is not None else "")
        return getattr(client, method.lower())(
            path, data=data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
        )

    client.call = call
    return client
