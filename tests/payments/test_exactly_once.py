"""Exactly-once charging: one charge per invoice under concurrent runs, lost answers, Stripe outages and a
second run after a success; the stand-in keeps Stripe's idempotency rules; the sweeper finishes what is left."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction

from billing_portal.common import clock
from payments.charging import charge as charging
from payments.charging import gateway as stripe_gateway
from payments.charging.charge import ChargeOutcome, invoice_charge, invoices_charge_due
from payments.charging.sweep import payments_sweep
from payments.invoicing.documents import invoice_issue
from payments.models import Invoice, Payment
from tests.factories import TenantFactory
from tests.payments.factories import (
    VISA,
    account_for,
    answer_lost,
    card_for,
    charges_per_invoice,
    stripe_intents,
)

_seq = [0]


def due_invoice(tenant, amount=10_000):
    _seq[0] += 1
    return invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=f"due-{tenant.pk}-{_seq[0]}-{clock.now().timestamp()}",
        billing_date=clock.now().date(),
        lines=[{"description": "Fee", "amount": amount}],
        charge_at=clock.now() - timedelta(minutes=1),
    )


def paying_tenant(**kwargs):
    tenant = TenantFactory(**kwargs)
    account_for(tenant)
    card_for(tenant, number=VISA)
    return tenant


# --- the stand-in behaves as Stripe documents ---------------------------------------------------------------


def test_standin_replays_the_same_key_and_refuses_it_with_other_parameters(tenant):
    account = account_for(tenant)
    card = card_for(tenant)
    args = {
        "customer_id": account.stripe_customer_id,
        "payment_method_id": card.stripe_payment_method_id,
        "currency": "JPY",
        "idempotency_key": "invoice-990-attempt-1",
        "metadata": {"payment": "990"},
    }
    first = stripe_gateway.charge_off_session(amount_minor=1_100, **args)
    again = stripe_gateway.charge_off_session(amount_minor=1_100, **args)
    assert again["id"] == first["id"] and len(stripe_intents(tenant)) == 1  # replayed, not charged again
    with pytest.raises(stripe_gateway.PaymentGatewayError) as refused:
        stripe_gateway.charge_off_session(amount_minor=1, **args)
    assert refused.value.code == "idempotency_error"
    assert len(stripe_intents(tenant)) == 1


def test_standin_lists_payment_intents_by_customer_and_finds_one_by_metadata(tenant):
    account = account_for(tenant)
    card = card_for(tenant)
    other = paying_tenant()
    stripe_gateway.charge_off_session(
        customer_id=account.stripe_customer_id,
        amount_minor=500,
        currency="JPY",
        payment_method_id=card.stripe_payment_method_id,
        idempotency_key="k-1",
        metadata={"payment": "41"},
    )
    since = int(clock.now().timestamp()) - 60
    found = stripe_gateway.payment_intent_find(
        customer_id=account.stripe_customer_id, metadata={"payment": "41"}, created_since=since
    )
    assert found is not None and found["amount"] == 500
    assert (
        stripe_gateway.payment_intent_find(
            customer_id=other.payment_account.stripe_customer_id,
            metadata={"payment": "41"},
            created_since=since,
        )
        is None
    )


# --- one live attempt per invoice ----------------------------------------------------------------------------


def test_the_database_refuses_a_second_live_attempt_for_an_invoice(tenant):
    account_for(tenant)
    invoice = due_invoice(tenant)
    Payment.objects.create(
        tenant=tenant, invoice=invoice, amount_minor=11_000, currency="JPY", idempotency_key="a-1"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            tenant=tenant,
            invoice=invoice,
            amount_minor=11_000,
            currency="JPY",
            idempotency_key="a-2",
            status=Payment.Status.SUCCESSFUL,
        )
    Payment.objects.filter(idempotency_key="a-1").update(status=Payment.Status.FAILED)
    Payment.objects.create(
        tenant=tenant, invoice=invoice, amount_minor=11_000, currency="JPY", idempotency_key="a-3"
    )


def test_a_successful_attempt_on_an_unpaid_invoice_means_paid_not_a_second_charge(tenant):
    """The state a run sees when another run's charge succeeded but the invoice is not marked paid yet."""
    tenant = paying_tenant()
    invoice = due_invoice(tenant)
    with mock.patch.object(charging, "payment_settle_invoice", return_value=ChargeOutcome.PAID):
        invoice_charge(invoice=invoice)  # charged at Stripe, the invoice left unpaid
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING
    assert invoice.payments.get().status == Payment.Status.SUCCESSFUL
    assert invoice_charge(invoice=invoice) == ChargeOutcome.PAID
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL and invoice.attempt_count == 1
    assert charges_per_invoice(tenant) == {str(invoice.pk): 1}


# --- concurrent charge runs ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("runs", [2, 8])
def test_concurrent_charge_runs_charge_each_invoice_once_in_20_rounds(runs):
    """`runs` charge runs start together on a barrier over the same due invoices, 20 rounds in a row: every
    invoice is charged exactly once at Stripe and ends paid, every round."""
    tenants = [paying_tenant() for _ in range(3)]
    for round_ in range(20):
        invoices = [due_invoice(tenant, amount=1_000 + round_) for tenant in tenants]
        barrier = threading.Barrier(runs)
        errors = []

        def run(barrier=barrier, errors=errors):
            try:
                barrier.wait(timeout=30)
                invoices_charge_due(at=clock.now())
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(runs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == [], f"round {round_}: {errors}"
        for tenant, invoice in zip(tenants, invoices, strict=True):
            invoice.refresh_from_db()
            assert invoice.status == Invoice.Status.SUCCESSFUL, f"round {round_}"
            assert charges_per_invoice(tenant).get(str(invoice.pk)) == 1, f"round {round_}: charged twice"
            assert invoice.payments.count() == 1


# --- outcomes that are unknown -------------------------------------------------------------------------------


def test_stripe_unreachable_leaves_one_pending_attempt_that_the_sweeper_finishes(tenant, settings):
    tenant = paying_tenant()
    invoice = due_invoice(tenant)
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    assert invoice_charge(invoice=invoice) == ChargeOutcome.UNKNOWN  # the run goes on, nothing raised
    assert invoice_charge(invoice=invoice) == ChargeOutcome.UNKNOWN  # a second run resumes the same attempt
    assert list(invoice.payments.values_list("idempotency_key", "status")) == [
        (f"invoice-{invoice.pk}-attempt-1", "pending")
    ]
    settings.STRIPE_API_BASE = base
    report = payments_sweep()
    assert report["resumed_paid"] == 1
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL and invoice.attempt_count == 1
    assert charges_per_invoice(tenant) == {str(invoice.pk): 1}


def test_a_charge_whose_answer_was_lost_is_found_by_its_metadata_and_not_sent_again(tenant):
    tenant = paying_tenant()
    invoice = due_invoice(tenant)
    with answer_lost("charge_off_session"):
        assert invoice_charge(invoice=invoice) == ChargeOutcome.UNKNOWN
    assert invoice.payments.get().stripe_payment_intent_id == ""  # we never heard the PaymentIntent id
    with mock.patch.object(stripe_gateway, "charge_off_session", side_effect=AssertionError("sent again")):
        payments_sweep()
    invoice.refresh_from_db()
    payment = invoice.payments.get()
    assert invoice.status == Invoice.Status.SUCCESSFUL
    assert payment.status == Payment.Status.SUCCESSFUL and payment.stripe_payment_intent_id.startswith("pi_")
    assert charges_per_invoice(tenant) == {str(invoice.pk): 1}


def test_reconcile_repairs_an_attempt_without_a_payment_intent_id(tenant):
    from payments.charging.reconcile import stripe_reconcile

    tenant = paying_tenant()
    invoice = due_invoice(tenant)
    with answer_lost("charge_off_session"):
        invoice_charge(invoice=invoice)
    report = stripe_reconcile(fix=False)
    assert any("pending locally, successful at Stripe" in line for line in report["drift"])
    stripe_reconcile(fix=True)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL
    assert charges_per_invoice(tenant) == {str(invoice.pk): 1}
