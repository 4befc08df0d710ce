"""The operator in the browser: registers a webhook endpoint in admin, a customer upgrades, and the delivery log
shows the delivery, verified by the receiver with the Standard Webhooks library; the revenue dashboard draws its
charts."""

import os

import pytest
from playwright.sync_api import expect

from licenses.selectors import plan_get
from licenses.services import license_purchase
from ops.models import WebhookDelivery, WebhookEndpoint
from tests.e2e.conftest import ARTIFACTS
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.ops.receiver import Receiver
from tests.payments.factories import account_for, card_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("STRIPE_API_BASE"), reason="needs the Stripe stand-in (make test starts it)"
    ),
]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _sign_in(page, user):
    page.goto("/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_register_an_endpoint_upgrade_a_tenant_and_see_a_verified_delivery(
    page, browser, live_server, tenant, receiver
):
    staff = UserFactory(email="ops@example.test", is_staff=True, is_superuser=True)
    account_for(tenant)
    card_for(tenant)
    license_purchase(tenant=tenant, plan=plan_get(code="starter", currency="JPY"))

    # Ops register the endpoint in admin.
    _sign_in(page, staff)
    page.goto("/admin/")
    page.get_by_role("link", name="Webhook endpoints").click()
    page.get_by_role("link", name="Add webhook endpoint").click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("Thank-you e-mails")
    page.get_by_label("license.changed").check()
    page.get_by_label("invoice.paid").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    endpoint = WebhookEndpoint.objects.get()
    receiver.secret = endpoint.secret
    page.get_by_role("link", name="Thank-you e-mails").click()
    expect(page.locator(".field-secret")).to_contain_text(endpoint.secret)

    # The customer upgrades Starter → Business in the portal (another browser session).
    customer = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    try:
        portal = customer.new_page()
        _sign_in(portal, tenant.representative)
        portal.goto(f"/t/{tenant.slug}/dashboard/")
        portal.get_by_role("link", name="License update").click()
        portal.get_by_role("link", name="Select Business").click()
        portal.get_by_role("button", name="Update to Business").click()
        expect(
            portal.locator("section", has=portal.get_by_role("heading", name="License information"))
        ).to_contain_text("Business")
    finally:
        customer.close()

    # The delivery log: license.changed (and the upgrade invoice's invoice.paid) delivered, 200, verified.
    page.goto("/admin/")
    page.get_by_role("link", name="Webhook delivery log").click()
    row = page.locator("#result_list tbody tr", has_text="license.changed")
    expect(row).to_contain_text("Delivered")
    expect(row).to_contain_text('200 {"verified": true}')
    expect(page.locator("#result_list tbody tr", has_text="invoice.paid")).to_contain_text("Delivered")
    page.screenshot(path=str(ARTIFACTS / "ops_webhook_delivery_log.png"), full_page=True)
    row.get_by_role("link").first.click()
    expect(page.locator("body")).to_contain_text('"code": "business"')
    expect(page.locator(".inline-group")).to_contain_text('{"verified": true}')

    [verified] = receiver.verified("license.changed")
    assert verified["payload"]["data"]["plan"]["code"] == "business"
    delivery = WebhookDelivery.objects.get(event__message_id=verified["message_id"])
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED


def test_the_revenue_dashboard_draws_its_charts(page, tenant):
    staff = UserFactory(email="ops@example.test", is_staff=True, is_superuser=True)
    account_for(tenant)
    card_for(tenant)
    license_purchase(tenant=tenant, plan=plan_get(code="business", currency="JPY"))
    _sign_in(page, staff)
    page.goto("/admin/")
    page.get_by_role("link", name="Revenue dashboard").click()
    expect(page.locator('[data-revenue-chart="JPY"]')).to_be_visible()  # Chart.js ran (the CSP allowed it)
    expect(page.locator('[data-figure="mrr-JPY"]')).to_have_text("¥28,000")
    page.screenshot(path=str(ARTIFACTS / "ops_revenue_dashboard.png"), full_page=True)
    page.get_by_role("link", name="¥28,000").first.click()
    expect(page.locator("#result_list")).to_contain_text(tenant.name)
