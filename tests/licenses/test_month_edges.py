"""Issue 11, month edges: a change just after midnight on the 1st works on the month that has begun, even when
the 15-minute roll-over task has not run yet (every read and write rolls an ended period over first)."""

import pytest
import time_machine

from licenses.models import PlanChange, ProrationItem
from licenses.selectors import license_get, plan_get
from licenses.services import license_change_now, license_reserve_change
from payments.invoicing.selectors import credit_balance

from .conftest import jst

pytestmark = pytest.mark.django_db


def plan(tenant, code):
    return plan_get(code=code, currency=tenant.currency)


def test_upgrade_at_0005_on_the_1st_bills_the_month_that_has_begun(paid_tenant):
    tenant = paid_tenant  # Starter, period 1 Mar – 1 Apr 2027, no roll-over task has run
    with time_machine.travel(jst(2027, 4, 1, 0, 5), tick=False):
        change = license_change_now(
            tenant=tenant, plan=plan(tenant, "business"), proration_behavior="always_invoice"
        )
        license = license_get(tenant=tenant)
    assert (license.current_period_start, license.current_period_end) == (jst(2027, 4, 1), jst(2027, 5, 1))
    # 30 days minus 5 minutes of April remain: ¥28,000 and ¥25,000 prorated by the second.
    assert (change.unused_amount, change.remaining_amount, change.difference_amount) == (
        -24_997,
        27_997,
        3_000,
    )
    descriptions = set(ProrationItem.objects.filter(plan_change=change).values_list("description", flat=True))
    assert "Remaining time on Business (2027-04-01 – 2027-04-30)" in descriptions


def test_downgrade_now_at_0005_on_the_1st_credits_the_new_month(tenant):
    from .conftest import buy

    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 4, 1, 0, 5), tick=False):
        change = license_change_now(
            tenant=tenant, plan=plan(tenant, "starter"), proration_behavior="always_invoice"
        )
        assert change.difference_amount == -3_000
        assert credit_balance(tenant=tenant) == 3_000


def test_reservation_at_0005_on_the_1st_lands_at_the_end_of_the_month_that_has_begun(tenant):
    from .conftest import buy

    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 4, 1, 0, 5), tick=False):
        reservation = license_reserve_change(tenant=tenant, plan=plan(tenant, "starter"))
    assert reservation.effective_at == jst(2027, 5, 1)


def test_dashboard_at_0005_on_the_1st_shows_the_new_period(paid_tenant, client):
    tenant = paid_tenant
    with time_machine.travel(jst(2027, 4, 1, 0, 5), tick=False):
        client.force_login(tenant.representative)
        page = client.get(f"/t/{tenant.slug}/dashboard/").content.decode()
    assert "2027-04-01 – 2027-04-30" in page
    assert PlanChange.objects.filter(tenant=tenant).count() == 1  # a renewal, no plan change


@pytest.mark.django_db(transaction=True)  # seeded plans are restored by tests/conftest.py
def test_concurrent_reads_and_writes_at_0005_roll_the_period_over_exactly_once():
    """Readers and a registration line up at 00:05 on the 1st (before the roll-over task): the reserved downgrade
    is applied once, under the lock, and everyone sees the new period."""
    import threading

    from django.db import connection

    from licenses.models import PlanReservation
    from licenses.registrations import relying_party_register
    from payments.charging.cards import payment_method_choose
    from tests.factories import TenantFactory

    from .conftest import buy

    tenant = TenantFactory()
    payment_method_choose(
        tenant=tenant, method="bank_transfer", billing_address="1-1 Chiyoda, Tokyo"
    )  # no charge
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 15), tick=False):
        license_reserve_change(tenant=tenant, plan=plan(tenant, "starter"))
    barrier = threading.Barrier(5)
    seen, errors = [], []

    def worker(i):
        try:
            barrier.wait()
            if i == 0:
                relying_party_register(tenant=tenant, rp_id="login.example.com")
            seen.append(license_get(tenant=tenant).current_period_end)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    with time_machine.travel(jst(2027, 4, 1, 0, 5), tick=False):
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert seen == [jst(2027, 5, 1)] * 5
    assert PlanChange.objects.filter(tenant=tenant, kind="downgrade").count() == 1
    assert PlanReservation.objects.get(tenant=tenant).status == PlanReservation.Status.APPLIED
    assert license_get(tenant=tenant).plan.code == "starter"
