from datetime import date, timedelta

from django.urls import reverse

from billing_portal.common import clock
from payments.invoicing.credits import credit_code_issue, credit_grant, format_code
from payments.invoicing.documents import invoice_issue, invoice_status_set
from payments.models import Invoice


def billing(tenant):
    return reverse("billing_information", args=[tenant.slug])


def register(client, tenant, code):
    return client.post(reverse("credit_code_register", args=[tenant.slug]), {"code": code}, follow=True)


def test_register_a_credit_code_and_see_it_in_the_history(owner_client, tenant):
    code = credit_code_issue(
        name="Launch campaign", amount=5_000, currency="JPY", expires_at=clock.now() + timedelta(days=60)
    )
    body = register(owner_client, tenant, format_code(code.code)).content.decode()
    assert "Credit “Launch campaign” of ¥5,000 registered." in body
    for text in [
        "Credit history",
        "Launch campaign",
        "Expiration date",
        "Registration date",
        "Charged",
        "Used",
    ]:
        assert text in body
    assert 'data-testid="credit-available">¥5,000<' in body


def test_bad_codes_show_the_reason_and_keep_the_input(owner_client, tenant):
    body = register(owner_client, tenant, "WRONG-CODE").content.decode()
    assert "This credit code is not valid." in body
    assert 'value="WRONG-CODE"' in body
    usd = credit_code_issue(
        name="USD", amount=100, currency="USD", expires_at=clock.now() + timedelta(days=1)
    )
    assert "is in USD" in register(owner_client, tenant, usd.code).content.decode()


def test_credit_code_attempts_are_rate_limited(owner_client, tenant):
    for _ in range(5):
        register(owner_client, tenant, "GUESS")
    good = credit_code_issue(
        name="Real", amount=100, currency="JPY", expires_at=clock.now() + timedelta(days=1)
    )
    body = register(owner_client, tenant, good.code).content.decode()
    assert "Too many credit-code attempts" in body
    assert "Credit “Real”" not in body


def test_managers_see_credits_and_history_but_cannot_register_or_download(client, tenant, manager):
    credit_grant(
        tenant=tenant, name="Goodwill", amount_minor=700, currency="JPY", source="manual", source_key="g"
    )
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="m",
        billing_date=date(2026, 4, 1),
        lines=[{"description": "Base", "amount": 1000}],
    )
    client.force_login(manager)
    body = client.get(billing(tenant)).content.decode()
    assert "Goodwill" in body and invoice.receipt_id in body
    assert 'name="code"' not in body
    download = reverse("receipt_download", args=[tenant.slug, invoice.receipt_id])
    assert download not in body
    assert client.get(download).status_code == 403
    invoice_pdf = reverse("invoice_document", args=[tenant.slug, invoice.number])
    assert invoice_pdf not in body and client.get(invoice_pdf).status_code == 403
    assert client.post(reverse("credit_code_register", args=[tenant.slug]), {"code": "X"}).status_code == 403


def test_payment_history_columns_and_receipt_download(owner_client, tenant):
    credit_grant(
        tenant=tenant, name="Downgrade", amount_minor=968, currency="JPY", source="proration", source_key="p"
    )
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="m",
        billing_date=date(2026, 4, 1),
        lines=[{"description": "Starter", "amount": 25_000}],
    )
    body = owner_client.get(billing(tenant)).content.decode()
    for text in [
        "Receipt ID",
        "Billing date",
        "Payment date",
        "Payment method",
        "Usage amount",
        "Determined amount",
        "Tax",
        "Payment amount",
        "Status",
        "¥24,032",
        "¥2,403",
        "¥26,435",
        "Pending",
    ]:
        assert text in body, text
    # Pending: the invoice PDF (請求書) is there from issue; the receipt (領収書) only once paid.
    assert (
        owner_client.get(reverse("receipt_download", args=[tenant.slug, invoice.receipt_id])).status_code
        == 404
    )
    response = owner_client.get(reverse("invoice_document", args=[tenant.slug, invoice.number]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    invoice_status_set(invoice, Invoice.Status.SUCCESSFUL)
    response = owner_client.get(reverse("receipt_download", args=[tenant.slug, invoice.receipt_id]))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert owner_client.get(reverse("receipt_download", args=[tenant.slug, "RNOPE"])).status_code == 404
