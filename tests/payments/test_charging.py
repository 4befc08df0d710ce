from datetime import timedelta

import time_machine
from django.core import mail

from billing_portal.common import clock
from licenses.selectors import plan_get
from licenses.services import license_change_now
from payments.charging.charge import ChargeOutcome, invoice_charge
from payments.invoicing import cycle
from payments.invoicing.documents import invoice_issue
from payments.models import Invoice
from tests.licenses.conftest import buy, jst
from tests.payments.factories import NEEDS_3DS, account_for, attach_card_directly, card_for


def due_invoice(tenant, amount=10_000):
    return invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=f"due-{tenant.pk}",
        billing_date=clock.now().date(),
        lines=[{"description": "Fee", "amount": amount}],
        charge_at=clock.now() - timedelta(minutes=1),
    )


def test_faq_downgrade_credit_makes_the_next_invoice_24032_before_tax(tenant):
    """Business ¥28,000 → Starter ¥25,000 with 10 of 31 days left: −¥968 credit, then April ¥25,000 − ¥968."""
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        change = license_change_now(
            tenant=tenant,
            plan=plan_get(code="starter", currency="JPY"),
            proration_behavior="create_prorations",
            by_operator=True,
        )
    assert change.difference_amount == -968
    with time_machine.travel(jst(2027, 4, 1, 0, 10), tick=False):
        april = cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=4)
    assert (april.usage_amount, april.credit_applied, april.determined_amount) == (25_000, 968, 24_032)
    assert april.payment_amount == 24_032 + 2_403


def test_authentication_required_emails_a_link_to_finish_the_payment(
    tenant, django_capture_on_commit_callbacks
):
    account_for(tenant)
    attach_card_directly(tenant, NEEDS_3DS)
    invoice = due_invoice(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = invoice_charge(invoice=invoice)
    assert outcome == ChargeOutcome.ACTION_REQUIRED
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.FAILED and invoice.next_attempt_at is None
    message = next(m for m in mail.outbox if "Payment failed" in m.subject)
    assert f"/t/{tenant.slug}/billing/invoices/{invoice.receipt_id}/pay/" in message.body


def test_retries_stop_after_three(tenant):
    from tests.payments.factories import CHARGE_FAILS

    account_for(tenant)
    card_for(tenant, number=CHARGE_FAILS)
    invoice = due_invoice(tenant)
    for _ in range(4):
        invoice.refresh_from_db()
        with time_machine.travel(invoice.next_attempt_at + timedelta(seconds=1), tick=False):
            assert invoice_charge(invoice=invoice) == ChargeOutcome.FAILED
    invoice.refresh_from_db()
    assert invoice.attempt_count == 4 and invoice.next_attempt_at is None
    first, *retries = invoice.payments.order_by("pk")
    assert [round((p.created_at - first.created_at) / timedelta(days=1)) for p in retries] == [3, 5, 7]
