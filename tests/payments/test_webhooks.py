import time
from unittest import mock

import pytest
from django.urls import reverse

from billing_portal.common import clock
from payments.charging import attempts
from payments.charging import gateway as stripe_gateway
from payments.models import Invoice, Payment, PaymentAccount, PaymentMethod, StripeEvent
from tests.payments.factories import account_for, card_for, deliver, event, signed


@pytest.fixture
def account(tenant):
    return account_for(tenant)


def _customer_obj(account):
    return {"id": account.stripe_customer_id, "object": "customer"}


def test_bad_signature_is_400_and_nothing_stored(client, account):
    response = deliver(client, event("customer.updated", _customer_obj(account)), secret="whsec_wrong")
    assert response.status_code == 400
    assert "signature" in response.json()["error"]["message"].lower()
    assert not StripeEvent.objects.exists()


def test_missing_signature_is_400(client, account):
    response = client.post("/stripe/webhook/", data=b"{}", content_type="application/json")
    assert response.status_code == 400 and not StripeEvent.objects.exists()


def test_stale_signature_is_400(client, account):
    response = deliver(
        client, event("customer.updated", _customer_obj(account)), timestamp=int(time.time()) - 3600
    )
    assert response.status_code == 400 and not StripeEvent.objects.exists()


def test_tampered_body_is_400(client, account):
    body, header = signed(event("customer.updated", _customer_obj(account)))
    response = client.post(
        "/stripe/webhook/",
        data=body.replace(b"customer", b"kustomer", 1),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )
    assert response.status_code == 400 and not StripeEvent.objects.exists()


def test_customer_updated_syncs_name_and_email_from_stripe(client, account):
    stripe_gateway.customer_update(
        customer_id=account.stripe_customer_id, name="Renamed", email="new@example.test", idempotency_key="t1"
    )
    response = deliver(client, event("customer.updated", _customer_obj(account)))
    assert response.status_code == 200 and response.json()["status"] == "processed"
    account.refresh_from_db()
    assert (account.name, account.email) == ("Renamed", "new@example.test")


def test_duplicate_delivery_is_stored_and_processed_once(client, account):
    payload = event("customer.updated", _customer_obj(account), event_id="evt_dup_1")
    assert deliver(client, payload).status_code == 200
    assert deliver(client, payload).status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.stripe_event_id == "evt_dup_1" and stored.attempts == 1 and stored.status == "processed"


def test_out_of_order_payment_events_end_in_stripes_state(client, tenant, account):
    card_for(tenant)
    payment = attempts.payment_charge_off_session(
        tenant=tenant, amount_minor=900, currency="JPY", idempotency_key="invoice-9-attempt-1"
    )
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.PENDING)  # as if the answer was lost
    pi = {
        "id": payment.stripe_payment_intent_id,
        "object": "payment_intent",
        "customer": account.stripe_customer_id,
    }
    succeeded = event("payment_intent.succeeded", pi)
    failed_earlier = event("payment_intent.payment_failed", pi)  # an older failure delivered late
    assert deliver(client, succeeded).status_code == 200
    assert deliver(client, failed_earlier).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCESSFUL


def test_detached_before_attached_ends_without_the_card(client, tenant, account):
    card = card_for(tenant)
    pm = {
        "id": card.stripe_payment_method_id,
        "object": "payment_method",
        "customer": account.stripe_customer_id,
    }
    stripe_gateway.payment_method_detach(
        payment_method_id=card.stripe_payment_method_id, idempotency_key="t2"
    )
    detached = event("payment_method.detached", {**pm, "customer": None})
    attached = event("payment_method.attached", pm)
    assert deliver(client, detached).status_code == 200
    assert deliver(client, attached).status_code == 200  # late, but Stripe says the card is gone
    assert not PaymentMethod.objects.filter(tenant=tenant).exists()


def test_setup_intent_succeeded_adds_the_card(client, tenant, account):
    card = card_for(tenant)
    PaymentMethod.objects.all().delete()  # the page never came back; the webhook must catch up
    response = deliver(
        client,
        event(
            "setup_intent.succeeded",
            {"id": "seti_x", "object": "setup_intent", "customer": account.stripe_customer_id},
        ),
    )
    assert response.status_code == 200
    assert PaymentMethod.objects.get(tenant=tenant).stripe_payment_method_id == card.stripe_payment_method_id


def test_unknown_event_types_are_stored_as_ignored(client, account):
    response = deliver(client, event("invoice.finalized", {"id": "in_1", "object": "invoice"}))
    assert response.status_code == 200 and StripeEvent.objects.get().status == "ignored"


def test_failure_keeps_the_traceback_and_admin_reprocesses(client, account, monkeypatch, admin_client):
    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(stripe_gateway, "customer_retrieve", broken)
    stripe_gateway_real = monkeypatch  # undo below
    response = deliver(client, event("customer.updated", _customer_obj(account)))
    assert response.status_code == 200 and response.json()["status"] == "failed"  # stored; never a 500
    stored = StripeEvent.objects.get()
    assert stored.status == "failed" and "RuntimeError: database hiccup" in stored.traceback

    stripe_gateway_real.undo()
    stripe_gateway.customer_update(
        customer_id=account.stripe_customer_id, name="After Fix", idempotency_key="t3"
    )
    response = admin_client.post(
        reverse("admin:payments_stripeevent_changelist"),
        {"action": "reprocess", "_selected_action": [stored.pk]},
        follow=True,
    )
    assert "Reprocessed 1 event; 0 failed." in response.content.decode()
    stored.refresh_from_db()
    assert stored.status == "processed" and stored.traceback == "" and stored.attempts == 2
    assert PaymentAccount.objects.get().name == "After Fix"


def test_a_failed_event_is_processed_again_by_the_sweeper(client, account, monkeypatch):
    from payments.charging.sweep import payments_sweep

    monkeypatch.setattr(
        stripe_gateway, "customer_retrieve", lambda **kw: (_ for _ in ()).throw(RuntimeError("x"))
    )
    deliver(client, event("customer.updated", _customer_obj(account)))
    monkeypatch.undo()
    stripe_gateway.customer_update(customer_id=account.stripe_customer_id, name="Swept", idempotency_key="t4")
    assert payments_sweep()["webhook_processed"] == 1
    assert StripeEvent.objects.get().status == "processed" and PaymentAccount.objects.get().name == "Swept"


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"[1, 2]",
        b'"evt"',
        b"null",
        b'{"id": "evt_1", "type": "x"}',
        b'{"id": "evt_1", "type": "x", "data": []}',
        b'{"id": 5, "type": "x", "data": {}}',
    ],
)
def test_a_signed_body_that_is_not_a_stripe_event_is_400_not_500(client, account, body):
    body, header = signed(body)
    response = client.post(
        "/stripe/webhook/", data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_body"
    assert not StripeEvent.objects.exists()


def _invoice_with_pending_attempt(tenant, amount=1_000):
    """A ¥1,100 (tax included) card invoice whose attempt has been sent (or not) but not answered."""
    from payments.charging.charge import ChargeOutcome, invoice_charge
    from tests.payments.test_exactly_once import due_invoice

    invoice = due_invoice(tenant, amount=amount)
    with mock.patch.object(
        stripe_gateway, "charge_off_session", side_effect=stripe_gateway.StripeUnavailable("cut")
    ):
        assert invoice_charge(invoice=invoice) == ChargeOutcome.UNKNOWN
    return invoice, invoice.payments.get()


def _intent(account, *, amount, metadata, currency="jpy"):
    """A PaymentIntent made at Stripe behind the portal's back (as a stranger with the API key could)."""
    card = PaymentMethod.objects.get(tenant=account.tenant)
    return stripe_gateway._client().v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": currency,
            "customer": account.stripe_customer_id,
            "payment_method": card.stripe_payment_method_id,
            "confirm": True,
            "off_session": True,
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
    )


def test_a_one_yen_payment_intent_does_not_pay_an_1100_yen_invoice(client, tenant, account):
    card_for(tenant)
    invoice, payment = _invoice_with_pending_attempt(tenant)
    assert invoice.payment_amount == 1_100
    fake = _intent(account, amount=1, metadata={"payment": str(payment.pk), "invoice": str(invoice.pk)})
    response = deliver(
        client,
        event(
            "payment_intent.succeeded",
            {
                "id": fake.id,
                "object": "payment_intent",
                "customer": account.stripe_customer_id,
                "metadata": {"payment": str(payment.pk)},
            },
        ),
    )
    assert response.status_code == 200 and response.json()["status"] == "flagged"
    stored = StripeEvent.objects.get()
    assert "amount 1 != 1100" in stored.flag_reason
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING and payment.status == Payment.Status.PENDING
    assert payment.stripe_payment_intent_id == ""


def test_another_customers_payment_intent_does_not_pay_the_invoice(client, tenant, account):
    from tests.payments.test_exactly_once import paying_tenant

    card_for(tenant)
    invoice, payment = _invoice_with_pending_attempt(tenant)
    stranger = paying_tenant()
    fake = _intent(stranger.payment_account, amount=1_100, metadata={"payment": str(payment.pk)})
    response = deliver(client, event("payment_intent.succeeded", {"id": fake.id, "object": "payment_intent"}))
    assert response.status_code == 200 and response.json()["status"] == "flagged"
    assert "customer" in StripeEvent.objects.get().flag_reason
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING


def test_the_matching_payment_intent_pays_the_invoice_in_the_same_transaction(client, tenant, account):
    card_for(tenant)
    invoice, payment = _invoice_with_pending_attempt(tenant)
    real = _intent(account, amount=1_100, metadata={"payment": str(payment.pk), "invoice": str(invoice.pk)})
    response = deliver(client, event("payment_intent.succeeded", {"id": real.id, "object": "payment_intent"}))
    assert response.json()["status"] == "processed"
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL and payment.status == Payment.Status.SUCCESSFUL
    assert payment.stripe_payment_intent_id == real.id


def test_an_event_stored_but_never_processed_is_processed_by_the_sweeper(client, account):
    from datetime import timedelta

    from payments.charging.sweep import payments_sweep

    body, _header = signed(event("customer.updated", _customer_obj(account)))
    stored = StripeEvent.objects.create(
        stripe_event_id="evt_died",
        type="customer.updated",
        raw_body=body.decode(),
        received_at=clock.now() - timedelta(minutes=5),
    )  # the web worker died here
    assert payments_sweep()["webhook_processed"] == 1
    stored.refresh_from_db()
    assert stored.status == "processed"
