import threading
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.db import connection

from billing_portal.common import clock
from licenses.selectors import plan_get
from licenses.services import license_change_now
from payments import billing_cycle, stripe_gateway
from payments.billing_cycle import ChargeOutcome, invoice_charge
from payments.invoicing import invoice_issue
from payments.models import Invoice, Payment
from tests.factories import TenantFactory
from tests.licenses.conftest import buy, jst
from tests.payments.factories import NEEDS_3DS, VISA, account_for, attach_card_directly, card_for


def due_invoice(tenant, amount=10_000):
    return invoice_issue(tenant=tenant, kind="monthly", source_key=f"due-{tenant.pk}",
                         billing_date=clock.now().date(), lines=[{"description": "Fee", "amount": amount}],
                         charge_at=clock.now() - timedelta(minutes=1))


def test_faq_downgrade_credit_makes_the_next_invoice_24032_before_tax(tenant):
    """Business ¥28,000 → Starter ¥25,000 with 10 of 31 days left: −¥968 credit, then April ¥25,000 − ¥968."""
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        change = license_change_now(tenant=tenant, plan=plan_get(code="starter", currency="JPY"),
                                    proration_behavior="create_prorations")
    assert change.difference_amount == -968
    with time_machine.travel(jst(2027, 4, 1, 0, 10), tick=False):
        april = billing_cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=4)
    assert (april.usage_amount, april.credit_applied, april.determined_amount) == (25_000, 968, 24_032)
    assert april.payment_amount == 24_032 + 2_403


@pytest.mark.django_db(transaction=True)
def test_concurrent_charge_runs_charge_once():
    tenant = TenantFactory()
    account_for(tenant)
    card_for(tenant, number=VISA)
    invoice = due_invoice(tenant)
    outcomes = []

    def worker():
        try:
            outcomes.append(invoice_charge(invoice=invoice))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(ChargeOutcome.PAID) == 1
    assert set(outcomes) <= {ChargeOutcome.PAID, ChargeOutcome.BLOCKED, ChargeOutcome.SKIPPED}
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.SUCCESSFUL


def test_an_unknown_outcome_blocks_further_attempts_until_reconciled(tenant):
    account_for(tenant)
    card_for(tenant, number=VISA)
    invoice = due_invoice(tenant)
    with mock.patch.object(stripe_gateway, "charge_off_session",
                           side_effect=stripe_gateway.StripeUnavailable("Stripe could not be reached.")):
        with pytest.raises(stripe_gateway.StripeUnavailable):
            invoice_charge(invoice=invoice)
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == Payment.Status.PENDING
    assert invoice_charge(invoice=invoice) == ChargeOutcome.BLOCKED
    assert Payment.objects.filter(invoice=invoice).count() == 1  # no second attempt


def test_authentication_required_emails_a_link_to_finish_the_payment(tenant, django_capture_on_commit_callbacks):
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


def test_a_success_not_yet_recorded_is_never_charged_again(tenant):
    """The window between Stripe's success and the invoice being marked paid: another run (a retry, Pay now,
    the hourly task) must not start a second attempt. (Seen as a flaky double PAID in the concurrency test.)"""
    account_for(tenant)
    card_for(tenant, number=VISA)
    invoice = due_invoice(tenant)
    original = billing_cycle._record_charge_result
    second = []

    def record(**kwargs):
        if not second:
            second.append(invoice_charge(invoice=invoice))
        return original(**kwargs)

    with mock.patch.object(billing_cycle, "_record_charge_result", side_effect=record):
        assert invoice_charge(invoice=invoice) == ChargeOutcome.PAID
    assert second == [ChargeOutcome.SKIPPED]
    assert Payment.objects.filter(invoice=invoice).count() == 1
