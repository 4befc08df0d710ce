"""Paying that cannot fail silently, in the browser: a purchase without a payment method is refused with the way
to register one; a failed payment shows on the dashboard with "Pay now", which pays it with the current card."""

import os
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from billing_portal.common import clock
from payments.charging import cards
from payments.charging.charge import ChargeOutcome, invoice_charge
from payments.invoicing.documents import invoice_issue
from payments.models import Invoice, PaymentMethod
from tests.payments.factories import CHARGE_FAILS, VISA, account_for, attach_card_directly, card_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("STRIPE_API_BASE"), reason="needs the Stripe stand-in (make test starts it)"
    ),
]


def test_purchase_without_a_payment_method_is_refused(page, sign_in, tenant):
    account_for(tenant)  # a payment account, but no card and no invoice payment
    sign_in(tenant.representative)
    page.goto(f"/t/{tenant.slug}/dashboard/")
    page.get_by_role("link", name="Purchase license").click()
    page.get_by_role("link", name="Select Starter").click()
    expect(page.get_by_role("heading", name="Confirm purchase")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(
        "Please register your payment method before setting your plan"
    )
    expect(page.get_by_role("button", name="Purchase Starter")).to_have_count(0)
    page.screenshot(path=str(_artifacts() / "purchase_refused_without_payment_method.png"), full_page=True)
    page.get_by_role("link", name="Register a payment method").click()
    expect(page.get_by_role("heading", name="Payment management")).to_be_visible()
    tenant.refresh_from_db()
    assert tenant.license.plan.is_free


def test_pay_now_pays_a_failed_invoice_with_the_current_card(page, sign_in, tenant):
    account_for(tenant)
    card_for(tenant, number=CHARGE_FAILS)
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=f"e2e-{tenant.pk}",
        billing_date=clock.now().date(),
        lines=[{"description": "Fee", "amount": 10_000}],
        charge_at=clock.now() - timedelta(minutes=1),
    )
    assert invoice_charge(invoice=invoice) == ChargeOutcome.FAILED
    sign_in(tenant.representative)
    page.goto(f"/t/{tenant.slug}/dashboard/")
    failed = page.locator("section", has=page.get_by_role("heading", name="Payment failed"))
    expect(failed).to_contain_text(invoice.number)
    expect(failed).to_contain_text("¥11,000")
    page.screenshot(path=str(_artifacts() / "pay_now_failed_payment_on_dashboard.png"), full_page=True)
    # The customer replaces the card (e.g. at Stripe's customer portal), then pays at once.
    cards.card_remove(tenant=tenant, payment_method=PaymentMethod.objects.get(tenant=tenant))
    attach_card_directly(tenant, VISA)
    failed.get_by_role("button", name="Pay now").click()
    expect(page.get_by_text(f"Thank you: invoice {invoice.number} is paid.")).to_be_visible()
    expect(page.get_by_role("heading", name="Payment failed")).to_have_count(0)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL


def _artifacts():
    from tests.e2e.conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
