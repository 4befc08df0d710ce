"""Against the local Stripe stand-in (started by `make test`): payment account, declined card, accepted card."""

import os

import pytest
from playwright.sync_api import expect

from payments.models import PaymentAccount, PaymentMethod

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("STRIPE_API_BASE"), reason="needs the Stripe stand-in (make test starts it)"
    ),
]


def fill_card(page, number):
    """Type into the stand-in's card element like a person (it moves focus as fields fill up)."""
    card = page.locator("#card-element")
    for field, value in [
        ("number", number),
        ("exp_month", "12"),
        ("exp_year", "30"),
        ("cvc", "123"),
        ("postal_code", "10001"),
    ]:
        box = card.get_by_placeholder(field)
        box.fill("")
        box.press_sequentially(value)


def test_create_payment_account_then_a_declined_and_an_accepted_card(page, sign_in, tenant):
    sign_in(tenant.representative)
    page.goto(f"/t/{tenant.slug}/dashboard/")
    page.get_by_label("Payer name").fill("Sato Treasury")
    page.get_by_label("Payer e-mail address").fill("not-an-email")
    page.get_by_role("button", name="Create payment account").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    expect(page.get_by_label("Payer name")).to_have_value("Sato Treasury")
    page.get_by_label("Payer e-mail address").fill("treasury@sato.example")
    page.get_by_role("button", name="Create payment account").click()
    account = PaymentAccount.objects.get(tenant=tenant)
    expect(page.get_by_text(account.stripe_customer_id)).to_be_visible()
    expect(page.get_by_role("button", name="Check payment information (Stripe)")).to_be_visible()
    expect(page.get_by_role("link", name="Purchase license")).to_be_visible()

    page.goto(f"/t/{tenant.slug}/billing/")
    page.get_by_role("link", name="Register card").click()
    fill_card(page, "4000000000000002")
    page.get_by_role("button", name="Save card").click()
    expect(page.locator("#card-errors")).to_contain_text("Your card was declined")
    assert not PaymentMethod.objects.filter(tenant=tenant).exists()

    fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_text("4242").first).to_be_visible()
    card = PaymentMethod.objects.get(tenant=tenant)
    assert (card.brand.lower(), card.last4, card.exp_year) == ("visa", "4242", 2030)
