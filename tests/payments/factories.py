"""Helpers for payments tests: real stand-in objects, signed webhook deliveries."""

import hashlib
import hmac
import json
import time

from django.conf import settings

from payments.charging import cards, customers
from payments.models import PaymentMethod

WEBHOOK_SECRET = "whsec_test_payments"  # noqa: S105 - test value

VISA = "4242424242424242"
DECLINED = "4000000000000002"
CHARGE_FAILS = "4000000000000341"
NEEDS_3DS = "4000002500003155"


def account_for(tenant, name="Pat Payer", email="pat@example.test"):
    return customers.payment_account_create(tenant=tenant, name=name, email=email)


def confirm_setup_intent(client_secret, number=VISA, exp_month=12, exp_year=2030):
    """What Stripe.js does in the browser: confirm the SetupIntent with card data (publishable key only)."""
    import urllib.error
    import urllib.request

    seti = client_secret.split("_secret_")[0]
    body = json.dumps(
        {
            "key": settings.STRIPE_PUBLISHABLE_KEY,
            "client_secret": client_secret,
            "payment_method_data": {
                "type": "card",
                "card": {
                    "number": number,
                    "exp_month": str(exp_month),
                    "exp_year": str(exp_year),
                    "cvc": "123",
                },
            },
        }
    ).encode()
    request = urllib.request.Request(
        f"{settings.STRIPE_API_BASE}/v1/setup_intents/{seti}/confirm", data=body, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def card_for(tenant, number=VISA, **kwargs):
    """Register a card the way the page does (SetupIntent → confirm → complete)."""
    intent = cards.card_setup_start(tenant=tenant, attempt=f"t{time.monotonic_ns()}")
    status, body = confirm_setup_intent(intent["client_secret"], number=number, **kwargs)
    assert status == 200, body
    return cards.card_setup_complete(tenant=tenant, setup_intent_id=intent["id"])


def local_card(tenant, last4="4242", pm_id=None):
    """A card summary row only (no Stripe object), for pages that just list it."""
    return PaymentMethod.objects.create(
        tenant=tenant,
        stripe_payment_method_id=pm_id or f"pm_local_{tenant.pk}_{last4}",
        brand="visa",
        last4=last4,
        exp_month=12,
        exp_year=2030,
    )


def signed(payload: dict | bytes, *, secret=WEBHOOK_SECRET, timestamp=None) -> tuple[bytes, str]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={timestamp},v1={signature}"


_counter = [0]


def event(type_, obj, event_id=None):
    _counter[0] += 1
    return {
        "id": event_id or f"evt_test_{time.monotonic_ns()}_{_counter[0]}",
        "object": "event",
        "type": type_,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "api_version": "2026-10-28",
    }


def deliver(client, payload, **kwargs):
    body, header = signed(payload, **kwargs)
    return client.post(
        "/stripe/webhook/", data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def attach_card_directly(tenant, number, last4=None):
    """A card created and attached server-side (the stand-in cannot confirm a 3-D Secure SetupIntent)."""
    import urllib.parse
    import urllib.request

    from payments.charging import gateway as stripe_gateway

    account = tenant.payment_account
    body = urllib.parse.urlencode(
        {
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2030",
            "card[cvc]": "123",
        }
    ).encode()
    request = urllib.request.Request(
        f"{settings.STRIPE_API_BASE}/v1/payment_methods",
        data=body,
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
    )
    pm_id = json.loads(urllib.request.urlopen(request, timeout=5).read())["id"]  # noqa: S310 - loopback stand-in
    stripe_gateway.payment_method_attach(
        payment_method_id=pm_id, customer_id=account.stripe_customer_id, idempotency_key=f"attach-{pm_id}"
    )
    return PaymentMethod.objects.create(
        tenant=tenant,
        stripe_payment_method_id=pm_id,
        brand="visa",
        last4=last4 or number[-4:],
        exp_month=12,
        exp_year=2030,
        is_default=True,
    )


def stripe_intents(tenant) -> list[dict]:
    """Every PaymentIntent of the tenant's Stripe customer, as the stand-in holds them (the truth about charges)."""
    from payments.charging import gateway as stripe_gateway

    account = tenant.payment_account
    page = stripe_gateway._client().v1.payment_intents.list(
        params={"customer": account.stripe_customer_id, "limit": 100}
    )
    return [stripe_gateway._payment_intent(obj) for obj in page.auto_paging_iter()]


def charges_per_invoice(tenant) -> dict[str, int]:
    """How many times Stripe actually charged each invoice of the tenant: {invoice id: succeeded intents}."""
    from collections import Counter

    from payments.models import Payment

    def invoice_of(pi):
        payment = Payment.objects.filter(pk=pi["metadata"].get("payment") or 0).first()
        return str(payment.invoice_id) if payment else pi["metadata"].get("invoice")

    return dict(Counter(invoice_of(pi) for pi in stripe_intents(tenant) if pi["status"] == "successful"))


def answer_lost(name: str):
    """Patch `payments.stripe_gateway.<name>` so that the call reaches Stripe (the stand-in does it) but its answer
    is lost on the way back (StripeUnavailable), as when the network drops after Stripe has acted."""
    from unittest import mock

    from payments.charging import gateway as stripe_gateway

    real = getattr(stripe_gateway, name)

    def reached_then_cut(**kwargs):
        real(**kwargs)
        raise stripe_gateway.StripeUnavailable("Stripe could not be reached.")

    return mock.patch.object(stripe_gateway, name, side_effect=reached_then_cut)
