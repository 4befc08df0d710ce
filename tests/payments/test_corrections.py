"""Refunds through Stripe, disputes and reissued invoices: what ops do in admin, what the customer sees."""

import json
import threading
import urllib.request

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.urls import reverse

from payments.charging import gateway as stripe_gateway
from payments.charging.charge import ChargeOutcome, invoice_charge
from payments.charging.refunds import refund_request
from payments.charging.sweep import payments_sweep
from payments.invoicing.corrections import invoice_reissue
from payments.invoicing.credits import credit_grant
from payments.invoicing.selectors import credit_balance
from payments.models import Credit, Dispute, Invoice, Refund
from tests.payments.factories import CHARGE_FAILS, answer_lost, deliver, event
from tests.payments.test_exactly_once import due_invoice, paying_tenant

pytestmark = pytest.mark.django_db


def paid_invoice(tenant, amount=10_000):
    invoice = due_invoice(tenant, amount=amount)
    assert invoice_charge(invoice=invoice) == ChargeOutcome.PAID
    invoice.refresh_from_db()
    return invoice


def stripe_refunds(invoice) -> list[dict]:
    return stripe_gateway.refunds_list(
        payment_intent_id=invoice.payments.get(status="successful").stripe_payment_intent_id
    )


def history(client, tenant) -> str:
    return client.get(reverse("billing_information", args=[tenant.slug])).content.decode()


# --- refunds -------------------------------------------------------------------------------------------------


def test_a_full_refund_goes_through_stripe_with_a_credit_note_and_an_email(
    client, django_capture_on_commit_callbacks
):
    tenant = paying_tenant()
    invoice = paid_invoice(tenant)  # ¥10,000 + ¥1,000 tax
    balance = credit_balance(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_request(invoice=invoice, amount_minor=None, reason="Service outage in May")
    assert (
        refund.status == Refund.Status.SUCCEEDED
        and refund.amount_minor == 11_000
        and refund.tax_minor == 1_000
    )
    assert [(r["amount"], r["status"]) for r in stripe_refunds(invoice)] == [(11_000, "succeeded")]
    invoice.refresh_from_db()
    assert invoice.refunded_amount == 11_000 and invoice.display_status == "Refunded"
    note = refund.credit_note
    assert (note.kind, note.usage_amount, note.tax_amount, note.payment_amount) == (
        "credit_note",
        -10_000,
        -1_000,
        -11_000,
    )
    assert note.lines.get().description == f"Refund of invoice {invoice.number}: Service outage in May"
    assert credit_balance(tenant=tenant) == balance  # the money went back to the card, not to credit
    message = next(m for m in mail.outbox if m.subject.startswith("Refund"))
    assert "We refunded ¥11,000 (tax included)" in message.body and note.number in message.body
    client.force_login(tenant.representative)
    assert "Refunded" in history(client, tenant)


def test_partial_refunds_add_up_to_the_invoice_exactly_and_never_beyond(client):
    tenant = paying_tenant()
    invoice = paid_invoice(tenant, amount=999)  # ¥999 + ¥100 tax = ¥1,099
    first = refund_request(invoice=invoice, amount_minor=500, reason="Partial")
    invoice.refresh_from_db()
    assert invoice.display_status == "Partially refunded"
    client.force_login(tenant.representative)
    assert "Partially refunded" in history(client, tenant)
    with pytest.raises(Exception, match="between ¥1 and ¥599"):
        refund_request(invoice=invoice, amount_minor=600, reason="Too much")
    last = refund_request(invoice=invoice, amount_minor=None, reason="The rest")
    assert first.amount_minor + last.amount_minor == 1_099
    assert first.tax_minor + last.tax_minor == 100  # the invoice's tax, refunded exactly
    assert sum(r["amount"] for r in stripe_refunds(invoice)) == 1_099
    with pytest.raises(Exception, match="between ¥1 and ¥0"):
        refund_request(invoice=invoice, amount_minor=1, reason="Once more")


def test_an_unpaid_or_bank_transfer_invoice_is_not_refunded_through_stripe(tenant):
    tenant = paying_tenant()
    unpaid = due_invoice(tenant)
    with pytest.raises(Exception, match="Only paid invoices"):
        refund_request(invoice=unpaid, amount_minor=None, reason="x")
    assert not Refund.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_refund_clicks_never_refund_more_than_was_paid():
    tenant = paying_tenant()
    invoice = paid_invoice(tenant)
    barrier = threading.Barrier(4)
    results = []

    def click():
        try:
            barrier.wait(timeout=30)
            results.append(refund_request(invoice=invoice, amount_minor=7_000, reason="Double click").status)
        except Exception as exc:  # noqa: BLE001 - the refused ones
            results.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results.count("succeeded") == 1 and len(results) == 4
    invoice.refresh_from_db()
    assert invoice.refunded_amount == 7_000
    assert sum(r["amount"] for r in stripe_refunds(invoice)) == 7_000


def test_a_refund_whose_answer_was_lost_is_sent_again_with_its_key_and_refunds_once(tenant):
    tenant = paying_tenant()
    invoice = paid_invoice(tenant)
    with answer_lost("refund_create"):
        refund = refund_request(invoice=invoice, amount_minor=2_200, reason="Goodwill")
    assert refund.status == Refund.Status.PENDING
    assert payments_sweep()["refunds_resent"] == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert [r["amount"] for r in stripe_refunds(invoice)] == [2_200]  # Stripe replayed the first answer


def test_the_standin_refuses_a_refund_beyond_the_charge_like_stripe(tenant):
    tenant = paying_tenant()
    invoice = paid_invoice(tenant)
    pi = invoice.payments.get().stripe_payment_intent_id
    with pytest.raises(stripe_gateway.RefundRefused, match="greater than unrefunded"):
        stripe_gateway.refund_create(
            payment_intent_id=pi, amount_minor=11_001, idempotency_key="r-x", metadata={}
        )


def test_a_refund_made_in_the_stripe_dashboard_is_recorded_from_the_webhook(client):
    tenant = paying_tenant()
    invoice = paid_invoice(tenant)
    pi = invoice.payments.get().stripe_payment_intent_id
    stripe_gateway._client().v1.refunds.create(params={"payment_intent": pi, "amount": 1_100})
    response = deliver(
        client, event("charge.refunded", {"id": "ch_x", "object": "charge", "payment_intent": pi})
    )
    assert response.json()["status"] == "processed"
    refund = Refund.objects.get()
    assert (refund.amount_minor, refund.tax_minor, refund.status) == (1_100, 100, "succeeded")
    assert refund.reason == "Refunded in the Stripe dashboard" and refund.credit_note.payment_amount == -1_100
    deliver(client, event("charge.refunded", {"id": "ch_x", "object": "charge", "payment_intent": pi}))
    assert Refund.objects.count() == 1  # a replay records nothing twice


# --- disputes ------------------------------------------------------------------------------------------------


def open_dispute(payment_intent_id, reason="fraudulent"):
    request = urllib.request.Request(
        f"{settings.STRIPE_API_BASE}/_standin/disputes",
        method="POST",
        data=f"payment_intent={payment_intent_id}&reason={reason}".encode(),
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
    )
    return json.loads(urllib.request.urlopen(request, timeout=5).read())  # noqa: S310 - loopback stand-in


def test_a_dispute_marks_the_invoice_and_tells_ops_and_the_payment_administrator(
    client, admin_client, settings, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Ops", "ops@operator.example")]
    tenant = paying_tenant()
    invoice = paid_invoice(tenant)
    dispute = open_dispute(invoice.payments.get().stripe_payment_intent_id)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(
            client, event("charge.dispute.created", {"id": dispute["id"], "object": "dispute"})
        )
    assert response.json()["status"] == "processed"
    stored = Dispute.objects.get()
    assert (stored.invoice, stored.amount_minor, stored.status, stored.reason) == (
        invoice,
        11_000,
        "needs_response",
        "fraudulent",
    )
    invoice.refresh_from_db()
    assert invoice.disputed
    subjects = [m.subject for m in mail.outbox]
    assert any("Dispute" in s and tenant.name in s for s in subjects)  # ops (mail_admins)
    assert any(s.startswith("Your bank disputed a payment") for s in subjects)  # the payment administrator
    client.force_login(tenant.representative)
    assert "Disputed" in history(client, tenant)
    assert dispute["id"] in admin_client.get(reverse("admin:payments_dispute_changelist")).content.decode()


# --- reissue -------------------------------------------------------------------------------------------------


def test_reissuing_an_unpaid_invoice_voids_it_links_the_replacement_and_moves_the_credit(client):
    tenant = paying_tenant()
    credit_grant(
        tenant=tenant,
        name="Goodwill",
        amount_minor=3_000,
        currency="JPY",
        source=Credit.Source.MANUAL,
        source_key=f"goodwill-{tenant.pk}",
    )
    old = due_invoice(tenant, amount=10_000)
    assert old.credit_applied == 3_000
    new = invoice_reissue(
        invoice=old,
        lines=[{"description": "Business license (corrected)", "amount": 8_000}],
        reason="Wrong plan price",
    )
    old.refresh_from_db()
    assert old.status == Invoice.Status.VOID and old.replaced_by == new and old.next_attempt_at is None
    assert (new.usage_amount, new.credit_applied, new.payment_amount) == (8_000, 3_000, 5_500)
    assert (
        Credit.objects.get(tenant=tenant).amount_used == 3_000
    )  # released from the void one, used by the new
    assert new.lines.get().description == "Business license (corrected)"
    assert invoice_charge(invoice=old) == ChargeOutcome.SKIPPED  # a void invoice is never charged
    assert invoice_charge(invoice=new) == ChargeOutcome.PAID
    client.force_login(tenant.representative)
    page = history(client, tenant)
    assert "Void" in page and f"replaced by {new.number}" in page


def test_a_monthly_invoice_can_be_reissued_for_its_period(tenant):
    from datetime import date

    from payments.invoicing.documents import invoice_issue
    from tests.licenses.conftest import jst

    tenant = paying_tenant()
    old = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=f"monthly-{tenant.pk}-2027-04",
        billing_date=date(2027, 4, 1),
        lines=[{"description": "Fee", "amount": 28_000}],
        period_start=jst(2027, 4, 1),
        period_end=jst(2027, 5, 1),
    )
    new = invoice_reissue(
        invoice=old, lines=[{"description": "Fee", "amount": 25_000}], reason="Reserved downgrade"
    )
    assert (new.kind, new.period_start) == ("monthly", old.period_start)


def test_a_paid_or_paying_invoice_is_not_reissued(tenant):
    tenant = paying_tenant()
    paid = paid_invoice(tenant)
    with pytest.raises(Exception, match="cannot be reissued"):
        invoice_reissue(invoice=paid, lines=[{"description": "x", "amount": 1}], reason="r")
    failing = paying_tenant()
    from tests.payments.factories import card_for

    card_for(failing, number=CHARGE_FAILS)
    invoice = due_invoice(failing)
    assert invoice_charge(invoice=invoice) == ChargeOutcome.FAILED  # a failed invoice can be
    assert invoice_reissue(invoice=invoice, lines=[{"description": "x", "amount": 1}], reason="r").number


# --- admin -----------------------------------------------------------------------------------------------------


def test_ops_refund_and_reissue_from_the_invoice_in_admin(admin_client):
    tenant = paying_tenant()
    invoice = paid_invoice(tenant)
    page = admin_client.get(reverse("admin:payments_invoice_change", args=[invoice.pk])).content.decode()
    assert "Refund…" in page and "Void and reissue…" not in page
    url = reverse("admin:payments_invoice_refund", args=[invoice.pk])
    assert "refundable ¥11,000" in admin_client.get(url).content.decode()
    bad = admin_client.post(url, {"amount": "20000", "reason": "x"}).content.decode()
    assert "between ¥1 and ¥11,000" in bad and not Refund.objects.exists()
    response = admin_client.post(url, {"amount": "", "reason": "Cancelled order"}, follow=True)
    assert "Refunded ¥11,000; credit note" in response.content.decode()

    unpaid = due_invoice(tenant, amount=5_000)
    url = reverse("admin:payments_invoice_reissue", args=[unpaid.pk])
    assert "Fee | 5000" in admin_client.get(url).content.decode()
    bad = admin_client.post(url, {"lines": "no amount here", "reason": "x"}).content.decode()
    assert "Row 1: write" in bad
    response = admin_client.post(
        url, {"lines": "Fee | 4000\nDiscount | -500", "reason": "Agreed price"}, follow=True
    )
    unpaid.refresh_from_db()
    assert unpaid.status == "void" and unpaid.replaced_by.usage_amount == 3_500
    assert f"its replacement is {unpaid.replaced_by.number}" in response.content.decode()
