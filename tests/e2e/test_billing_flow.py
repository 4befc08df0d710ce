"""A customer's billing life in the browser, against the Stripe stand-in: purchase, upgrade, reserve a downgrade
and cancel it, register a credit code, download the invoice PDF, cancel the contract."""

import io
import os
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from billing_portal.common import clock
from payments.invoicing.credits import credit_code_issue, format_code
from payments.models import Invoice
from tests.payments.factories import account_for, card_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("STRIPE_API_BASE"), reason="needs the Stripe stand-in (make test starts it)"
    ),
]


def dashboard(page, tenant):
    page.goto(f"/t/{tenant.slug}/dashboard/")


def test_purchase_upgrade_reserve_and_cancel_a_downgrade(page, sign_in, tenant):
    account_for(tenant)
    card_for(tenant)
    sign_in(tenant.representative)
    dashboard(page, tenant)
    page.get_by_role("link", name="Purchase license").click()
    page.get_by_role("link", name="Select Starter").click()
    expect(page.get_by_role("heading", name="Confirm purchase")).to_be_visible()
    page.get_by_role("button", name="Purchase Starter").click()
    license_panel = page.locator("section", has=page.get_by_role("heading", name="License information"))
    expect(license_panel).to_contain_text("Starter")
    expect(license_panel).to_contain_text("MAU usage count this month")
    purchase = Invoice.objects.get(tenant=tenant)
    assert purchase.status == Invoice.Status.SUCCESSFUL  # charged at once on the registered card

    page.get_by_role("link", name="License update").click()
    page.get_by_role("link", name="Select Business").click()
    expect(page.get_by_role("heading", name="Confirm license update")).to_be_visible()
    page.get_by_role("button", name="Update to Business").click()
    expect(license_panel).to_contain_text("Business")

    page.get_by_role("link", name="License update").click()
    page.get_by_role("link", name="Select Starter").click()
    expect(page.get_by_role("heading", name="Confirm reserved change")).to_be_visible()
    page.get_by_role("button", name="Reserve change to Starter").click()
    expect(page.get_by_text("License to be updated next month:")).to_be_visible()

    page.get_by_role("link", name="Cancel reservation").click()
    page.get_by_role("button", name="Cancel reservation").click()
    expect(page.get_by_text("License to be updated next month:")).to_have_count(0)
    expect(license_panel).to_contain_text("Business")


def test_register_a_credit_code_and_download_a_receipt(page, sign_in, tenant):
    from payments.invoicing.documents import invoice_issue

    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="e2e",
        billing_date=clock.now().date(),
        lines=[{"description": "Starter license", "amount": 25_000}],
    )
    code = credit_code_issue(
        name="Welcome credit", amount=3_000, currency="JPY", expires_at=clock.now() + timedelta(days=30)
    )
    sign_in(tenant.representative)
    page.goto(f"/t/{tenant.slug}/billing/")
    page.get_by_label("Credit code").fill("WRONG")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("This credit code is not valid.")).to_be_visible()
    page.get_by_label("Credit code").fill(format_code(code.code))
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Credit “Welcome credit” of ¥3,000 registered.")).to_be_visible()
    expect(page.get_by_test_id("credit-available")).to_have_text("¥3,000")

    # The invoice is not paid yet: its invoice PDF (請求書) downloads, its receipt does not exist yet.
    expect(page.get_by_role("link", name=invoice.receipt_id)).to_have_count(0)
    with page.expect_download() as download_info:
        page.locator("[data-documents]").get_by_role("link", name="Invoice").click()
    download = download_info.value
    assert download.suggested_filename == f"invoice-{invoice.number}.pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(open(download.path(), "rb").read())).pages)
    assert "¥27,500" in text and tenant.name in text


def test_cancel_the_contract(page, sign_in, tenant):
    account_for(tenant)
    card_for(tenant)  # a payment method is needed to buy the license
    from licenses.selectors import plan_get
    from licenses.services import license_purchase

    license_purchase(tenant=tenant, plan=plan_get(code="business", currency="JPY"))
    sign_in(tenant.representative)
    page.goto(f"/t/{tenant.slug}/contract/")
    page.get_by_role("button", name="Review cancellation").click()
    expect(page.get_by_text("Tick this box to agree.").first).to_be_visible()
    for box in page.locator("form.terms input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="Review cancellation").click()
    expect(page.get_by_role("heading", name="Review the contract cancellation")).to_be_visible()
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("The contract is cancelled. Service continues until")).to_be_visible()
    tenant.license.refresh_from_db()
    assert not tenant.license.auto_renew
