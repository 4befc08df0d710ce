import json

import pytest
from django.urls import reverse

from billing_portal.common.exceptions import ApplicationError
from payments.charging import cards
from payments.charging import gateway as stripe_gateway
from payments.models import PaymentMethod, PaymentSettings
from tests.factories import TenantFactory
from tests.payments.factories import DECLINED, VISA, account_for, card_for, confirm_setup_intent


def url(name, tenant, **kwargs):
    return reverse(name, kwargs={"tenant_slug": tenant.slug, **kwargs})


def test_register_card_like_the_browser_does(owner_client, tenant):
    account = account_for(tenant)
    page = owner_client.get(url("card_register", tenant)).content.decode()
    assert "/js.stripe.com/v3/" in page and "Register card" in page

    response = owner_client.post(url("card_setup_intent", tenant), {"attempt": "abc"})
    secret = response.json()["client_secret"]
    status, body = confirm_setup_intent(secret, number=VISA)  # Stripe.js → Stripe, never via the portal
    assert status == 200 and body["status"] == "succeeded"

    response = owner_client.post(
        url("card_setup_complete", tenant), {"setup_intent": body["id"]}, follow=True
    )
    page = response.content.decode()
    assert "Card registered: Visa ending in 4242." in page
    assert "•••• 4242" in page and "12/2030" in page and "Replace card" in page
    card = PaymentMethod.objects.get(tenant=tenant)
    assert stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)[
        "default_payment_method"
    ] == (card.stripe_payment_method_id)
    # No card number anywhere in what the portal stored.
    stored = json.dumps(list(PaymentMethod.objects.values()), default=str)
    assert VISA not in stored


def test_a_declined_card_is_refused_and_nothing_is_stored(owner_client, tenant):
    account_for(tenant)
    secret = owner_client.post(url("card_setup_intent", tenant)).json()["client_secret"]
    status, body = confirm_setup_intent(secret, number=DECLINED)
    assert status == 402 and body["error"]["code"] == "card_declined"
    seti = secret.split("_secret_")[0]
    response = owner_client.post(url("card_setup_complete", tenant), {"setup_intent": seti}, follow=True)
    assert "The card was not confirmed" in response.content.decode()
    assert not PaymentMethod.objects.exists()


def test_setup_intent_of_another_tenant_is_refused(owner_client, tenant, other_tenant):
    account_for(tenant)
    account_for(other_tenant, email="other@example.test")
    theirs = cards.card_setup_start(tenant=other_tenant, attempt="x")
    confirm_setup_intent(theirs["client_secret"])
    with pytest.raises(ApplicationError, match="does not belong"):
        cards.card_setup_complete(tenant=tenant, setup_intent_id=theirs["id"])
    assert not PaymentMethod.objects.filter(tenant=tenant).exists()


def test_setup_without_payment_account_is_a_json_error(owner_client, tenant):
    response = owner_client.post(url("card_setup_intent", tenant))
    assert response.status_code == 409
    assert response.json()["error"]["message"] == "Create a payment account first."


def test_replacing_keeps_only_the_new_card(tenant):
    account_for(tenant)
    card_for(tenant, number=VISA, exp_year=2031)
    new = card_for(tenant, number="5555555555554444", exp_month=3, exp_year=2032)
    cards = list(PaymentMethod.objects.filter(tenant=tenant))
    assert cards == [new] and new.last4 == "4444" and new.expiry == "03/2032" and new.is_default


def test_remove_card_asks_first_then_detaches_at_stripe(owner_client, tenant):
    account = account_for(tenant)
    card = card_for(tenant)
    confirm_page = owner_client.get(url("card_remove", tenant, pk=card.pk)).content.decode()
    assert "ending in <strong>4242</strong>" in confirm_page
    assert PaymentMethod.objects.filter(pk=card.pk).exists()
    response = owner_client.post(url("card_remove", tenant, pk=card.pk), follow=True)
    assert "Card ending in 4242 removed." in response.content.decode()
    assert not PaymentMethod.objects.filter(tenant=tenant).exists()
    assert stripe_gateway.payment_methods_list(customer_id=account.stripe_customer_id) == []


def test_manager_sees_cards_but_no_buttons(client, tenant, manager):
    account_for(tenant)
    card_for(tenant)
    client.force_login(manager)
    page = client.get(url("billing_information", tenant)).content.decode()
    assert "•••• 4242" in page
    assert "Remove card" not in page and "Replace card" not in page


def test_bank_transfer_needs_japan_and_a_billing_address(owner_client, tenant):
    account_for(tenant)
    page = owner_client.get(url("billing_information", tenant)).content.decode()
    assert "Invoice payment (bank transfer)" in page and 'value="bank_transfer" disabled' not in page
    response = owner_client.post(
        url("payment_method_choose", tenant), {"method": "bank_transfer", "billing_address": " "}
    )
    assert response.status_code == 400
    assert "Invoice payment needs a billing address." in response.content.decode()
    response = owner_client.post(
        url("payment_method_choose", tenant),
        {"method": "bank_transfer", "billing_address": "1-1 Chiyoda, Tokyo"},
        follow=True,
    )
    assert "Payment method saved." in response.content.decode()
    saved = PaymentSettings.objects.get(tenant=tenant)
    assert (saved.method, saved.billing_address) == ("bank_transfer", "1-1 Chiyoda, Tokyo")


def test_bank_transfer_is_disabled_with_the_reason_outside_japan(client, db):
    us = TenantFactory(country="US", currency="USD")
    account_for(us)
    client.force_login(us.representative)
    page = client.get(url("billing_information", us)).content.decode()
    assert 'value="bank_transfer" disabled' in page
    assert "only available to customers in Japan" in page
    response = client.post(
        url("payment_method_choose", us), {"method": "bank_transfer", "billing_address": "x"}
    )
    assert response.status_code == 400 and "only available to customers in Japan" in response.content.decode()
    assert not PaymentSettings.objects.filter(tenant=us).exists()
