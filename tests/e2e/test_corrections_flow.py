"""Money corrections in the browser, against the Stripe stand-in: ops refund and reissue from Django admin and
attach a coupon; a tenant applies a promotion code on the plan confirmation page and sees the discount first."""

import os
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from payments.charging.charge import ChargeOutcome, invoice_charge
from payments.models import Coupon, Discount, Invoice, Refund
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.payments.factories import account_for, card_for, charges_per_invoice
from tests.payments.test_exactly_once import due_invoice

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("STRIPE_API_BASE"), reason="needs the Stripe stand-in (make test starts it)"
    ),
]


@pytest.fixture
def ops(page):
    user = UserFactory(email="ops@operator.example", is_staff=True, is_superuser=True)
    page.goto("/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return user


def test_ops_refund_part_of_a_paid_invoice_and_the_customer_sees_it(page, ops, tenant, browser, live_server):
    account_for(tenant)
    card_for(tenant)
    invoice = due_invoice(tenant, amount=10_000)
    assert invoice_charge(invoice=invoice) == ChargeOutcome.PAID
    page.goto(f"/admin/payments/invoice/{invoice.pk}/change/")
    page.get_by_role("link", name="Refund…").click()
    expect(page.get_by_text("refundable ¥11,000")).to_be_visible()
    page.get_by_label("Amount to refund, tax included (minor units)").fill("20000")
    page.get_by_label("Reason (printed on the credit note)").fill("Outage on 3 May")
    page.get_by_role("button", name="Refund through Stripe").click()
    expect(page.get_by_text("between ¥1 and ¥11,000")).to_be_visible()  # refused, nothing lost
    page.get_by_label("Amount to refund, tax included (minor units)").fill("5500")
    page.get_by_role("button", name="Refund through Stripe").click()
    expect(page.get_by_text("Refunded ¥5,500; credit note")).to_be_visible()
    assert Refund.objects.get().status == "succeeded"
    page.screenshot(path="artifacts/e2e/ops_refund_done.png", full_page=True)

    customer = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url
    ).new_page()
    customer.goto("/accounts/login/")
    customer.fill("input[name=login]", tenant.representative.email)
    customer.fill("input[name=password]", DEFAULT_PASSWORD)
    customer.click("button[type=submit]")
    customer.goto(f"/t/{tenant.slug}/billing/")
    history = customer.locator("#payment-history")
    expect(history).to_contain_text("Partially refunded")
    customer.screenshot(path="artifacts/e2e/customer_sees_partial_refund.png", full_page=True)
    customer.context.close()


def test_ops_void_and_reissue_an_unpaid_invoice(page, ops, tenant):
    account_for(tenant)
    invoice = due_invoice(tenant, amount=28_000)  # no card yet: unpaid
    page.goto(f"/admin/payments/invoice/{invoice.pk}/change/")
    page.get_by_role("link", name="Void and reissue…").click()
    lines = page.get_by_label("Corrected lines")
    expect(lines).to_have_value("Fee | 28000")
    lines.fill("Business license | 28000\nAgreed discount | -3000")
    page.get_by_label("Reason").fill("Price agreed with sales")
    page.get_by_role("button", name="Void and issue the corrected invoice").click()
    invoice.refresh_from_db()
    replacement = invoice.replaced_by
    expect(page.get_by_text(f"its replacement is {replacement.number}")).to_be_visible()
    assert invoice.status == Invoice.Status.VOID and replacement.usage_amount == 25_000


def test_ops_attach_a_coupon_and_a_tenant_uses_a_promotion_code(page, ops, tenant, browser, live_server):
    page.goto("/admin/payments/coupon/add/")
    page.get_by_label("Name").fill("First three months free")
    page.get_by_label("Promotion code").fill("welcome3")
    page.get_by_label("Percent off").fill("100")
    page.get_by_label("Applies to").select_option("all")
    page.locator("#id_duration").select_option("repeating")
    page.get_by_label("Duration months").fill("3")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    coupon = Coupon.objects.get(promotion_code="WELCOME3")

    account_for(tenant)
    card_for(tenant)
    customer = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url
    ).new_page()
    customer.goto("/accounts/login/")
    customer.fill("input[name=login]", tenant.representative.email)
    customer.fill("input[name=password]", DEFAULT_PASSWORD)
    customer.click("button[type=submit]")
    customer.goto(f"/t/{tenant.slug}/license/change/?plan=business")
    customer.get_by_role("textbox", name="Promotion code").fill("ｗｅｌｃｏｍｅ３")  # typed in full width
    customer.get_by_role("button", name="Apply").click()
    expect(customer.get_by_test_id("promotion-summary")).to_contain_text("100% off everything for 3 months")
    assert not Discount.objects.exists()  # shown, nothing used yet
    customer.screenshot(path="artifacts/e2e/promotion_code_preview.png", full_page=True)
    customer.get_by_role("button", name="Purchase Business").click()
    expect(customer.get_by_role("heading", name="License information")).to_be_visible()
    purchase = Invoice.objects.get(tenant=tenant)
    assert (purchase.payment_amount, purchase.status) == (0, "successful")
    assert charges_per_invoice(tenant) == {}
    customer.context.close()
    assert Discount.objects.get(tenant=tenant).coupon == coupon

    # Sales-led: ops attach a coupon to another tenant in admin.
    from tests.factories import TenantFactory

    other = TenantFactory(name="Sales Led K.K.")
    page.goto("/admin/payments/coupon/add/")
    page.get_by_label("Name").fill("Sales deal")
    page.get_by_label("Percent off").fill("15")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    page.goto("/admin/payments/discount/add/")
    page.locator(".select2-selection").first.click()
    page.locator(".select2-search__field").fill("Sales Led")
    page.locator(".select2-results__option", has_text="Sales Led K.K.").click()
    page.get_by_label("Coupon").select_option(label="Sales deal")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    assert Discount.objects.get(tenant=other).coupon.percent_off == Decimal("15")
