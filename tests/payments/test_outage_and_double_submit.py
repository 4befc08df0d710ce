"""A purchase while Redis (the Celery broker) is down is billed later, never half-done; double-clicks on the
purchase, upgrade and credit-code forms make one change and one charge."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse
from kombu.exceptions import OperationalError

from billing_portal.common import clock
from licenses.models import PlanChange, ProrationItem
from licenses.selectors import license_get
from payments import tasks
from payments.charging.sweep import payments_sweep
from payments.invoicing.credits import credit_code_issue, format_code
from payments.models import CreditRedemption, Invoice
from tests.licenses.conftest import jst
from tests.payments.factories import charges_per_invoice
from tests.payments.test_exactly_once import paying_tenant


def broker_down(*args, **kwargs):
    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_a_purchase_while_the_broker_is_down_completes_and_the_sweeper_bills_it(
    owner_client, django_capture_on_commit_callbacks
):
    tenant = paying_tenant()
    owner_client.force_login(tenant.representative)
    with (
        mock.patch.object(tasks.bill_plan_change, "delay", side_effect=broker_down),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = owner_client.post(reverse("license_change", args=[tenant.slug]), {"plan": "business"})
    assert response.status_code == 302  # not a 500: the purchase is done
    assert license_get(tenant=tenant).plan.code == "business"
    assert ProrationItem.objects.filter(tenant=tenant, status="pending", billing="immediate").count() == 1
    assert not Invoice.objects.filter(tenant=tenant).exists()  # nothing billed yet: the message was lost

    with django_capture_on_commit_callbacks(execute=True):
        report = payments_sweep()
    assert report["invoices_issued"] == 1 and report["charged_paid"] == 1
    invoice = Invoice.objects.get(tenant=tenant)
    assert invoice.status == Invoice.Status.SUCCESSFUL and invoice.kind == Invoice.Kind.PRORATION
    assert charges_per_invoice(tenant) == {str(invoice.pk): 1}
    assert not ProrationItem.objects.filter(tenant=tenant, status="pending").exists()


def _double_click(url, data, user, clicks=2):
    barrier = threading.Barrier(clicks)
    statuses = []

    def click():
        client = Client()
        client.force_login(user)
        try:
            barrier.wait(timeout=30)
            statuses.append(client.post(url, data).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(clicks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return sorted(statuses)


@pytest.mark.django_db(transaction=True)
def test_double_click_on_purchase_buys_and_charges_once():
    tenant = paying_tenant()
    statuses = _double_click(
        reverse("license_change", args=[tenant.slug]), {"plan": "business"}, tenant.representative
    )
    assert statuses == [302, 400]  # the second click is told the license is already bought
    assert PlanChange.objects.filter(tenant=tenant, kind="purchase").count() == 1
    invoice = Invoice.objects.get(tenant=tenant)
    assert invoice.status == Invoice.Status.SUCCESSFUL
    assert charges_per_invoice(tenant) == {str(invoice.pk): 1}


@pytest.mark.django_db(transaction=True)
def test_double_click_on_upgrade_changes_and_charges_once():
    tenant = paying_tenant()
    with time_machine.travel(jst(2027, 3, 22), tick=True):
        client = Client()
        client.force_login(tenant.representative)
        assert (
            client.post(reverse("license_change", args=[tenant.slug]), {"plan": "starter"}).status_code == 302
        )
        statuses = _double_click(
            reverse("license_change", args=[tenant.slug]), {"plan": "business"}, tenant.representative
        )
    assert statuses == [302, 400]
    upgrades = PlanChange.objects.filter(tenant=tenant, kind="upgrade")
    assert upgrades.count() == 1
    invoice = Invoice.objects.get(tenant=tenant, source_key=f"plan-change-{upgrades.get().pk}")
    assert charges_per_invoice(tenant)[str(invoice.pk)] == 1
    assert Invoice.objects.filter(tenant=tenant).count() == 2  # the purchase and the one upgrade


@pytest.mark.django_db(transaction=True)
def test_double_click_on_a_credit_code_redeems_it_once():
    tenant = paying_tenant()
    code = credit_code_issue(
        name="Launch",
        amount=5_000,
        currency="JPY",
        expires_at=clock.now() + timedelta(days=9),
        redemption_limit=10,
    )
    statuses = _double_click(
        reverse("credit_code_register", args=[tenant.slug]),
        {"code": format_code(code.code)},
        tenant.representative,
    )
    assert len(statuses) == 2
    assert CreditRedemption.objects.filter(tenant=tenant).count() == 1
    code.refresh_from_db()
    assert code.redeemed_count == 1
