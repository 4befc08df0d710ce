import pytest

from billing_portal.common.exceptions import ApplicationError
from payments.charging import attempts
from payments.charging import gateway as stripe_gateway
from payments.models import Payment
from tests.factories import TenantFactory
from tests.payments.factories import CHARGE_FAILS, account_for, card_for


def test_off_session_charge_succeeds_in_yen_minor_units(tenant):
    account_for(tenant)
    card_for(tenant)
    payment = attempts.payment_charge_off_session(
        tenant=tenant, amount_minor=28000, currency="JPY", idempotency_key="invoice-1-attempt-1"
    )
    assert payment.status == Payment.Status.SUCCESSFUL and payment.failure_message == ""
    intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=payment.stripe_payment_intent_id)
    assert (intent["amount"], intent["currency"]) == (28000, "JPY")  # JPY is zero-decimal: ¥28,000 = 28000


def test_usd_is_charged_in_cents(db):
    us = TenantFactory(country="US", currency="USD")
    account_for(us)
    card_for(us)
    payment = attempts.payment_charge_off_session(
        tenant=us, amount_minor=1999, currency="USD", idempotency_key="invoice-2-attempt-1"
    )
    intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=payment.stripe_payment_intent_id)
    assert (intent["amount"], intent["currency"]) == (1999, "USD")


def test_same_idempotency_key_charges_once(tenant):
    account_for(tenant)
    card_for(tenant)
    first = attempts.payment_charge_off_session(
        tenant=tenant, amount_minor=500, currency="JPY", idempotency_key="invoice-3-attempt-1"
    )
    again = attempts.payment_charge_off_session(
        tenant=tenant, amount_minor=500, currency="JPY", idempotency_key="invoice-3-attempt-1"
    )
    assert again.pk == first.pk and again.stripe_payment_intent_id == first.stripe_payment_intent_id
    assert Payment.objects.count() == 1


def test_a_declined_charge_is_a_failed_payment_with_a_readable_message(tenant):
    account_for(tenant)
    card_for(tenant, number=CHARGE_FAILS)
    payment = attempts.payment_charge_off_session(
        tenant=tenant, amount_minor=500, currency="JPY", idempotency_key="invoice-4-attempt-1"
    )
    assert payment.status == Payment.Status.FAILED
    assert "declined" in payment.failure_message and "different card" in payment.failure_message


def test_no_card_fails_without_calling_stripe(tenant):
    account_for(tenant)
    payment = attempts.payment_charge_off_session(
        tenant=tenant, amount_minor=500, currency="JPY", idempotency_key="invoice-5-attempt-1"
    )
    assert payment.status == Payment.Status.FAILED and payment.failure_message == (
        "No card is registered for this payment account."
    )


def test_wrong_currency_is_refused(tenant):
    with pytest.raises(ApplicationError, match="billed in JPY"):
        attempts.payment_charge_off_session(
            tenant=tenant, amount_minor=5, currency="USD", idempotency_key="k"
        )
    assert not Payment.objects.exists()


def test_stripe_unreachable_leaves_the_payment_pending_for_a_retry(tenant, settings):
    account_for(tenant)
    card_for(tenant)
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    with pytest.raises(stripe_gateway.StripeUnavailable):
        attempts.payment_charge_off_session(
            tenant=tenant, amount_minor=500, currency="JPY", idempotency_key="invoice-6-attempt-1"
        )
    assert Payment.objects.get().status == Payment.Status.PENDING
    settings.STRIPE_API_BASE = base
    retried = attempts.payment_charge_off_session(
        tenant=tenant, amount_minor=500, currency="JPY", idempotency_key="invoice-6-attempt-1"
    )
    assert retried.status == Payment.Status.SUCCESSFUL and Payment.objects.count() == 1


def test_a_card_stripe_no_longer_knows_fails_the_attempt_without_a_charge(tenant):
    from tests.payments.factories import local_card

    account_for(tenant)
    local_card(tenant)  # a card summary whose payment method does not exist at Stripe
    payment = attempts.payment_charge_off_session(
        tenant=tenant, amount_minor=500, currency="JPY", idempotency_key="invoice-8-attempt-1"
    )
    assert payment.status == Payment.Status.FAILED and "no longer exists at Stripe" in payment.failure_message
