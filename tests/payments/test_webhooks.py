import time

import pytest
from django.urls import reverse

from payments import services, stripe_gateway
from payments.models import Payment, PaymentAccount, PaymentMethod, StripeEvent
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
    response = deliver(client, event("customer.updated", _customer_obj(account)), timestamp=int(time.time()) - 3600)
    assert response.status_code == 400 and not StripeEvent.objects.exists()


def test_tampered_body_is_400(client, account):
    body, header = signed(event("customer.updated", _customer_obj(account)))
    response = client.post("/stripe/webhook/", data=body.replace(b"customer", b"kustomer", 1),
                           content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert response.status_code == 400 and not StripeEvent.objects.exists()


def test_customer_updated_syncs_name_and_email_from_stripe(client, account):
    stripe_gateway.customer_update(customer_id=account.stripe_customer_id, name="Renamed", email="new@example.test",
                                   idempotency_key="t1")
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
    payment = services.payment_charge_off_session(tenant=tenant, amount_minor=900, currency="JPY",
                                                  idempotency_key="invoice-9-attempt-1")
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.PENDING)  # as if the answer was lost
    pi = {"id": payment.stripe_payment_intent_id, "object": "payment_intent", "customer": account.stripe_customer_id}
    succeeded = event("payment_intent.succeeded", pi)
    failed_earlier = event("payment_intent.payment_failed", pi)  # an older failure delivered late
    assert deliver(client, succeeded).status_code == 200
    assert deliver(client, failed_earlier).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCESSFUL


def test_detached_before_attached_ends_without_the_card(client, tenant, account):
    card = card_for(tenant)
    pm = {"id": card.stripe_payment_method_id, "object": "payment_method", "customer": account.stripe_customer_id}
    stripe_gateway.payment_method_detach(payment_method_id=card.stripe_payment_method_id, idempotency_key="t2")
    detached = event("payment_method.detached", {**pm, "customer": None})
    attached = event("payment_method.attached", pm)
    assert deliver(client, detached).status_code == 200
    assert deliver(client, attached).status_code == 200  # late, but Stripe says the card is gone
    assert not PaymentMethod.objects.filter(tenant=tenant).exists()


def test_setup_intent_succeeded_adds_the_card(client, tenant, account):
    card = card_for(tenant)
    PaymentMethod.objects.all().delete()  # the page never came back; the webhook must catch up
    response = deliver(client, event("setup_intent.succeeded", {"id": "seti_x", "object": "setup_intent",
                                                                "customer": account.stripe_customer_id}))
    assert response.status_code == 200
    assert PaymentMethod.objects.get(tenant=tenant).stripe_payment_method_id == card.stripe_payment_method_id


def test_unknown_event_types_are_stored_as_ignored(client, account):
    response = deliver(client, event("charge.refunded", {"id": "ch_1", "object": "charge"}))
    assert response.status_code == 200 and StripeEvent.objects.get().status == "ignored"


def test_failure_keeps_the_traceback_and_admin_reprocesses(client, account, monkeypatch, admin_client):
    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(stripe_gateway, "customer_retrieve", broken)
    stripe_gateway_real = monkeypatch  # undo below
    response = deliver(client, event("customer.updated", _customer_obj(account)))
    assert response.status_code == 500
    stored = StripeEvent.objects.get()
    assert stored.status == "failed" and "RuntimeError: database hiccup" in stored.traceback

    stripe_gateway_real.undo()
    stripe_gateway.customer_update(customer_id=account.stripe_customer_id, name="After Fix", idempotency_key="t3")
    response = admin_client.post(reverse("admin:payments_stripeevent_changelist"),
                                 {"action": "reprocess", "_selected_action": [stored.pk]}, follow=True)
    assert "Reprocessed 1 event(s); 0 failed." in response.content.decode()
    stored.refresh_from_db()
    assert stored.status == "processed" and stored.traceback == "" and stored.attempts == 2
    assert PaymentAccount.objects.get().name == "After Fix"
