"""Support plans in the browser: the dashboard's second category with its own edit button, purchase and change."""

import os

import pytest
from playwright.sync_api import expect

from licenses.support import support_get
from tests.payments.factories import account_for, card_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("STRIPE_API_BASE"), reason="needs the Stripe stand-in (make test starts it)"
    ),
]


def test_buy_then_change_the_support_plan_from_the_dashboard(page, sign_in, tenant):
    account_for(tenant)
    card_for(tenant)
    sign_in(tenant.representative)
    page.goto(f"/t/{tenant.slug}/dashboard/")
    panel = page.locator("section", has=page.get_by_role("heading", name="Support plan"))
    expect(panel).to_contain_text("No support plan")
    panel.get_by_role("link", name="Edit support plan").click()
    page.get_by_role("link", name="Select Standard support").click()
    expect(page.get_by_role("heading", name="Confirm support plan purchase")).to_be_visible()
    expect(page.locator("[data-charge-total]")).to_contain_text("¥")
    page.screenshot(path="artifacts/e2e/support_purchase_confirm.png", full_page=True)
    page.get_by_role("button", name="Purchase Standard support").click()
    expect(panel).to_contain_text("Standard support")
    panel.get_by_role("link", name="Edit support plan").click()
    page.get_by_role("link", name="Select Premium support").click()
    expect(page.get_by_role("heading", name="Confirm support plan change")).to_be_visible()
    expect(page.get_by_text("Unused time on Standard support")).to_be_visible()
    page.get_by_role("button", name="Change to Premium support").click()
    expect(panel).to_contain_text("Premium support")
    assert support_get(tenant=tenant).plan.code == "premium-support"
