from datetime import date, timedelta

from django.urls import reverse

from billing_portal.common import clock
from payments.invoicing.documents import invoice_issue, invoice_mark_paid_by_transfer
from payments.invoicing.selectors import credit_balance
from payments.models import CreditCode, Invoice
from tests.factories import UserFactory


def staff(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def issued(tenant, **kw):
    return invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="k",
        billing_date=date(2026, 4, 1),
        lines=[{"description": "Starter", "amount": 25_000}],
        **kw,
    )


def test_credit_note_corrects_without_editing_the_invoice(client, tenant):
    invoice = issued(tenant)
    url = reverse("admin:payments_invoice_credit_note", args=[invoice.pk])
    staff(client)
    assert (
        "Issue a credit note"
        in client.get(reverse("admin:payments_invoice_change", args=[invoice.pk])).content.decode()
    )
    too_much = client.post(url, {"amount": 25_001, "reason": "Overcharged"})
    assert "must be between 1 and ¥25,000" in too_much.content.decode()
    response = client.post(url, {"amount": 1_000, "reason": "Outage on 3 April"}, follow=True)
    assert "Credit note 2026-00002 issued" in response.content.decode()
    note = Invoice.objects.get(kind="credit_note")
    assert (note.usage_amount, note.tax_amount, note.payment_amount) == (-1_000, -100, -1_100)
    assert note.lines.get().description == f"Correction of invoice {invoice.number}: Outage on 3 April"
    invoice.refresh_from_db()
    assert invoice.payment_amount == 27_500  # untouched
    assert credit_balance(tenant=tenant) == 1_000


def test_issued_invoices_cannot_be_edited_or_deleted_in_admin(client, tenant):
    invoice = issued(tenant)
    staff(client)
    page = client.get(reverse("admin:payments_invoice_change", args=[invoice.pk])).content.decode()
    assert 'name="payment_amount"' not in page
    client.post(reverse("admin:payments_invoice_delete", args=[invoice.pk]), {"post": "yes"})
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_ops_issue_credit_codes_in_admin_and_the_code_is_generated(client, db):
    staff(client)
    expires = (clock.now() + timedelta(days=30)).strftime("%Y-%m-%d")
    response = client.post(
        reverse("admin:payments_creditcode_add"),
        {
            "name": "Campaign",
            "currency": "JPY",
            "amount": 3000,
            "expires_at_0": expires,
            "expires_at_1": "00:00:00",
            "redemption_limit": 5,
        },
        follow=True,
    )
    code = CreditCode.objects.get(name="Campaign")
    assert len(code.code) == 16
    assert "Credit code issued:" in response.content.decode()


def test_ops_mark_bank_transfer_invoices_paid(client, tenant):
    from payments.models import PaymentMethodType, PaymentSettings

    PaymentSettings.objects.create(
        tenant=tenant, method=PaymentMethodType.BANK_TRANSFER, billing_address="Tokyo"
    )
    invoice = issued(tenant, payment_method=Invoice.PaymentMethod.BANK_TRANSFER)
    assert invoice.next_attempt_at is None  # never charged to a card
    card_invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="card",
        billing_date=date(2026, 5, 1),
        lines=[{"description": "x", "amount": 100}],
    )
    staff(client)
    response = client.post(
        reverse("admin:payments_invoice_changelist"),
        {"action": "mark_bank_transfer_paid", "_selected_action": [invoice.pk, card_invoice.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert "Marked 1 invoice as paid." in body
    assert "Only invoices paid by bank transfer" in body
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL and invoice.paid_at is not None
    assert invoice_mark_paid_by_transfer(invoice=invoice).status == Invoice.Status.SUCCESSFUL  # idempotent
