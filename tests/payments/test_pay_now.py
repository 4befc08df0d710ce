"""Issue 11, paying that cannot fail silently: a failed payment shows on the dashboard and the billing page with
"Pay now"; a new card retries the open invoice at once; the confirmation page shows the tax-included amount that
reaches Stripe, with the proration in days and hours."""

import json
import re
import time
import urllib.request
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from billing_portal.common import clock
from payments.charging import cards
from payments.charging.charge import ChargeOutcome, invoice_charge
from payments.invoicing import credits
from payments.invoicing.documents import invoice_issue
from payments.models import Credit, Invoice, Payment, PaymentMethod
from tests.licenses.conftest import jst
from tests.payments.factories import (
    CHARGE_FAILS,
    NEEDS_3DS,
    VISA,
    account_for,
    attach_card_directly,
    card_for,
    confirm_setup_intent,
)

pytestmark = pytest.mark.django_db


def failed_invoice(tenant, card_number=CHARGE_FAILS, amount=10_000):
    account_for(tenant)
    if card_number == NEEDS_3DS:
        attach_card_directly(tenant, NEEDS_3DS)
    else:
        card_for(tenant, number=card_number)
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=f"due-{tenant.pk}",
        billing_date=clock.now().date(),
        lines=[{"description": "Fee", "amount": amount}],
        charge_at=clock.now() - timedelta(minutes=1),
    )
    assert invoice_charge(invoice=invoice) in (ChargeOutcome.FAILED, ChargeOutcome.ACTION_REQUIRED)
    invoice.refresh_from_db()
    return invoice


def text(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_failed_payment_shows_on_dashboard_and_billing_page_with_pay_now(owner_client, tenant):
    invoice = failed_invoice(tenant)
    for name in ("billing_dashboard", "billing_information"):
        page = owner_client.get(reverse(name, args=[tenant.slug]))
        body = text(page)
        assert "Payment failed" in body and invoice.number in body and "¥11,000" in body
        assert reverse("invoice_pay_now", args=[tenant.slug, invoice.receipt_id]) in page.content.decode()
        assert "Pay now" in body


def test_pay_now_with_the_same_failing_card_says_why(owner_client, tenant):
    invoice = failed_invoice(tenant)
    response = owner_client.post(
        reverse("invoice_pay_now", args=[tenant.slug, invoice.receipt_id]), follow=True
    )
    assert f"The payment of invoice {invoice.number} failed" in text(response)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.FAILED and invoice.attempt_count == 2


def test_pay_now_charges_the_current_card(owner_client, tenant):
    invoice = failed_invoice(tenant)
    old = PaymentMethod.objects.get(tenant=tenant)
    cards.card_remove(tenant=tenant, payment_method=old)
    attach_card_directly(tenant, VISA)  # e.g. replaced at Stripe's customer portal
    response = owner_client.post(
        reverse("invoice_pay_now", args=[tenant.slug, invoice.receipt_id]), follow=True
    )
    assert f"Thank you: invoice {invoice.number} is paid." in text(response)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL
    assert "Payment failed" not in text(owner_client.get(reverse("billing_dashboard", args=[tenant.slug])))


def test_registering_a_new_card_retries_the_open_invoice_at_once(owner_client, tenant):
    invoice = failed_invoice(tenant)
    intent = cards.card_setup_start(tenant=tenant, attempt=f"t{time.monotonic_ns()}")
    status, _ = confirm_setup_intent(intent["client_secret"], number=VISA)
    assert status == 200
    response = owner_client.post(
        reverse("card_setup_complete", args=[tenant.slug]), {"setup_intent": intent["id"]}, follow=True
    )
    assert f"Thank you: invoice {invoice.number} is paid." in text(response)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL
    assert invoice.payments.filter(status=Payment.Status.SUCCESSFUL).count() == 1


def test_pay_now_after_a_3ds_request_opens_the_confirmation_page(owner_client, tenant):
    invoice = failed_invoice(tenant, card_number=NEEDS_3DS)
    page = text(owner_client.get(reverse("billing_dashboard", args=[tenant.slug])))
    assert "Confirm with your bank" in page
    response = owner_client.post(reverse("invoice_pay_now", args=[tenant.slug, invoice.receipt_id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("invoice_pay", args=[tenant.slug, invoice.receipt_id])
    assert invoice.payments.count() == 1  # nothing charged again off-session


def _stripe_intent(intent_id):
    request = urllib.request.Request(
        f"{settings.STRIPE_API_BASE}/v1/payment_intents/{intent_id}",
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
    )
    return json.loads(urllib.request.urlopen(request, timeout=5).read())  # noqa: S310 - loopback stand-in


def test_confirmation_page_shows_the_tax_included_amount_that_reaches_stripe(
    client, tenant, django_capture_on_commit_callbacks
):
    account_for(tenant)
    card_for(tenant, number=VISA)
    credits.credit_grant(
        tenant=tenant,
        name="Goodwill",
        amount_minor=1_000,
        currency="JPY",
        source=Credit.Source.MANUAL,
        source_key=f"goodwill-{tenant.pk}",
    )
    url = reverse("license_change", args=[tenant.slug])
    with time_machine.travel(jst(2027, 3, 22), tick=False):  # 10 of 31 days left: Business ¥9,032 before tax
        client.force_login(tenant.representative)
        page = client.get(url, {"plan": "business"})
        body = text(page)
        assert "10 days 0 hours of 31 days 0 hours remain" in body
        assert "seconds" not in body
        # (¥9,032 − ¥1,000 credit) + 10% tax = ¥8,835
        assert "Credit applied −¥1,000" in body and "Tax (10%) ¥803" in body
        assert "Charged now, tax included ¥8,835" in body
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"plan": "business", "expected_total": "8835"})
    assert response.status_code == 302
    payment = Payment.objects.get(tenant=tenant)
    assert payment.status == Payment.Status.SUCCESSFUL and payment.amount_minor == 8_835
    assert _stripe_intent(payment.stripe_payment_intent_id)["amount"] == 8_835


def test_confirmation_refuses_when_the_amount_changed_since_it_was_shown(client, tenant):
    account_for(tenant)
    card_for(tenant, number=VISA)
    url = reverse("license_change", args=[tenant.slug])
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        client.force_login(tenant.representative)
        response = client.post(url, {"plan": "business", "expected_total": "1"})
    assert response.status_code == 400
    assert "The amount to be charged is now ¥9,935" in text(response)
    assert tenant.license.plan.is_free
