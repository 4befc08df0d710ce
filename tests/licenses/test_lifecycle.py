"""License lifecycle services: purchase, change now with proration, reservations, cancellation, roll-over."""

import pytest
import time_machine

from accounts.models import RelyingParty
from billing_portal.common.exceptions import ApplicationError, LimitExceeded
from licenses.models import PlanChange, PlanReservation, ProrationItem
from licenses.selectors import license_get, plan_get
from licenses.services import (
    license_cancel,
    license_change_now,
    license_purchase,
    license_reservation_cancel,
    license_reserve_change,
    license_resume,
    licenses_roll_over,
)
from payments.invoicing.selectors import credit_balance
from payments.models import Credit
from tests.factories import TenantFactory

from .conftest import add_payment_account, add_payment_method, buy, jst

pytestmark = pytest.mark.django_db


def plan(tenant, code):
    return plan_get(code=code, currency=tenant.currency)


def test_purchase_needs_a_payment_account(tenant):
    with pytest.raises(ApplicationError, match="Create a payment account first"):
        license_purchase(tenant=tenant, plan=plan(tenant, "starter"))
    assert license_get(tenant=tenant).plan.is_free


def test_purchase_and_change_need_a_registered_payment_method(tenant):
    from payments.charging.cards import payment_method_choose
    from payments.models import PaymentMethod

    add_payment_account(tenant)
    with pytest.raises(
        ApplicationError, match="Please register your payment method before setting your plan"
    ) as exc:
        license_purchase(tenant=tenant, plan=plan(tenant, "starter"))
    assert exc.value.code == "no_payment_method"
    assert license_get(tenant=tenant).plan.is_free
    payment_method_choose(tenant=tenant, method="bank_transfer", billing_address="1-1 Chiyoda, Tokyo")
    with time_machine.travel(jst(2027, 3, 1), tick=False):
        license_purchase(tenant=tenant, plan=plan(tenant, "starter"))  # invoice payment is a payment method
    payment_method_choose(tenant=tenant, method="card")
    assert not PaymentMethod.objects.filter(tenant=tenant).exists()
    with (
        time_machine.travel(jst(2027, 3, 2), tick=False),
        pytest.raises(ApplicationError, match="register your payment"),
    ):
        license_change_now(tenant=tenant, plan=plan(tenant, "business"), proration_behavior="always_invoice")
    assert license_get(tenant=tenant).plan.code == "starter"


def test_purchase_mid_month_invoices_the_rest_of_the_month_at_once(tenant):
    change = buy(tenant, "business", jst(2027, 3, 22))  # 10 of 31 days left
    license = license_get(tenant=tenant)
    assert license.plan.code == "business"
    assert (license.current_period_start, license.current_period_end) == (jst(2027, 3, 1), jst(2027, 4, 1))
    assert change.kind == PlanChange.Kind.PURCHASE
    item = ProrationItem.objects.get(tenant=tenant)
    assert (item.amount_minor, item.billing, item.status) == (9_032, "immediate", "pending")
    assert item.description == "Remaining time on Business (2027-03-01 – 2027-03-31)"


def test_reference_upgrade_always_invoice(paid_tenant):
    tenant = paid_tenant
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        change = license_change_now(
            tenant=tenant, plan=plan(tenant, "business"), proration_behavior="always_invoice"
        )
    assert (change.unused_amount, change.remaining_amount, change.difference_amount) == (-8_064, 9_032, 968)
    items = ProrationItem.objects.filter(plan_change=change).order_by("amount_minor")
    assert [(i.amount_minor, i.billing) for i in items] == [(-8_064, "immediate"), (9_032, "immediate")]
    assert license_get(tenant=tenant).plan.code == "business"
    assert change.kind == PlanChange.Kind.UPGRADE


def test_create_prorations_waits_for_the_next_invoice(paid_tenant):
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        change = license_change_now(
            tenant=paid_tenant,
            plan=plan(paid_tenant, "business"),
            proration_behavior="create_prorations",
            by_operator=True,
        )
    assert set(ProrationItem.objects.filter(plan_change=change).values_list("billing", flat=True)) == {
        "next_invoice"
    }


def test_none_changes_the_plan_without_proration(paid_tenant):
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        change = license_change_now(
            tenant=paid_tenant,
            plan=plan(paid_tenant, "business"),
            proration_behavior="none",
            by_operator=True,
        )
    assert change.difference_amount == 0
    assert not ProrationItem.objects.filter(plan_change=change).exists()


def test_reverse_downgrade_now_becomes_credit_of_968(tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        change = license_change_now(
            tenant=tenant, plan=plan(tenant, "starter"), proration_behavior="always_invoice"
        )
        assert change.difference_amount == -968
        assert change.kind == PlanChange.Kind.DOWNGRADE
        assert credit_balance(tenant=tenant) == 968
    credit = Credit.objects.get(tenant=tenant, source="proration")
    assert credit.source_key == f"proration-{change.pk}"
    assert not ProrationItem.objects.filter(plan_change=change).exists()
    # The next ¥25,000 invoice becomes ¥24,032 once the invoicing issue applies the balance.
    assert 25_000 - credit_balance(tenant=tenant, at=jst(2027, 4, 1)) == 24_032


def test_bad_behavior_and_same_plan_and_wrong_currency_are_refused(paid_tenant):
    with pytest.raises(ApplicationError) as exc:
        license_change_now(
            tenant=paid_tenant, plan=plan(paid_tenant, "business"), proration_behavior="sometimes"
        )
    assert exc.value.code == "bad_proration_behavior"
    with pytest.raises(ApplicationError) as exc:
        license_change_now(
            tenant=paid_tenant, plan=plan(paid_tenant, "starter"), proration_behavior="none", by_operator=True
        )
    assert exc.value.code == "same_plan"
    with pytest.raises(ApplicationError) as exc:
        license_change_now(
            tenant=paid_tenant,
            plan=plan_get(code="business", currency="USD"),
            proration_behavior="none",
            by_operator=True,
        )
    assert exc.value.code == "wrong_currency"


def test_reserved_downgrade_applies_at_the_next_period_and_roll_over_is_idempotent(tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 15), tick=False):
        reservation = license_reserve_change(tenant=tenant, plan=plan(tenant, "starter"))
    assert reservation.effective_at == jst(2027, 4, 1)
    licenses_roll_over(tenant=tenant, at=jst(2027, 3, 31, 23, 59))
    assert license_get(tenant=tenant).plan.code == "business"
    licenses_roll_over(tenant=tenant, at=jst(2027, 4, 1, 0, 5))
    licenses_roll_over(tenant=tenant, at=jst(2027, 4, 1, 0, 10))
    license = license_get(tenant=tenant)
    assert license.plan.code == "starter"
    assert (license.current_period_start, license.current_period_end) == (jst(2027, 4, 1), jst(2027, 5, 1))
    reservation.refresh_from_db()
    assert reservation.status == PlanReservation.Status.APPLIED
    assert PlanChange.objects.filter(tenant=tenant, kind="downgrade").count() == 1


def test_cancelled_reservation_keeps_the_plan(tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 15), tick=False):
        license_reserve_change(tenant=tenant, plan=plan(tenant, "starter"))
        license_reservation_cancel(tenant=tenant)
        with pytest.raises(ApplicationError, match="no reserved"):
            license_reservation_cancel(tenant=tenant)
    licenses_roll_over(tenant=tenant, at=jst(2027, 4, 2))
    assert license_get(tenant=tenant).plan.code == "business"


def test_cancel_runs_to_the_end_then_free_and_can_be_undone(paid_tenant):
    tenant = paid_tenant
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        license_cancel(tenant=tenant)
        assert license_get(tenant=tenant).auto_renew is False
        license_resume(tenant=tenant)
        assert license_get(tenant=tenant).auto_renew is True
        license_cancel(tenant=tenant)
    licenses_roll_over(tenant=tenant, at=jst(2027, 3, 31, 23))
    assert license_get(tenant=tenant).plan.code == "starter"
    licenses_roll_over(tenant=tenant, at=jst(2027, 4, 1, 1))
    license = license_get(tenant=tenant)
    assert license.plan.is_free and license.current_period_end is None
    assert license.current_period_start == jst(2027, 4, 1)
    assert PlanChange.objects.filter(tenant=tenant, kind="expiry").count() == 1


def test_a_renewal_moves_the_period_across_months_of_different_lengths(tenant):
    buy(tenant, "starter", jst(2027, 1, 31, 12))
    licenses_roll_over(tenant=tenant, at=jst(2027, 3, 15))  # Feb (28 days) then Mar
    license = license_get(tenant=tenant)
    assert (license.current_period_start, license.current_period_end) == (jst(2027, 3, 1), jst(2027, 4, 1))


def test_downgrade_that_would_exceed_limits_is_refused_with_the_reason(tenant):
    buy(tenant, "business", jst(2027, 3, 1))  # 10 RPs allowed; Starter allows 3
    for i in range(4):
        RelyingParty.objects.create(tenant=tenant, rp_id=f"rp{i}.example.com")
    with pytest.raises(LimitExceeded, match="4 RPs are registered but Starter allows 3") as exc:
        license_reserve_change(tenant=tenant, plan=plan(tenant, "starter"))
    assert exc.value.code == "limit_exceeded" and exc.value.status == 409
    with pytest.raises(LimitExceeded):
        license_change_now(
            tenant=tenant, plan=plan(tenant, "starter"), proration_behavior="none", by_operator=True
        )


def test_usd_tenant_purchase_in_cents():
    tenant = TenantFactory(currency="USD", country="US", time_zone="America/Los_Angeles")
    add_payment_account(tenant)
    add_payment_method(tenant)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    la = ZoneInfo("America/Los_Angeles")
    with time_machine.travel(datetime(2027, 4, 21, tzinfo=la), tick=False):  # 10 of 30 days left
        change = license_purchase(tenant=tenant, plan=plan(tenant, "starter"))
    assert change.currency == "USD"
    assert change.remaining_amount == 8_333  # $250.00 × 10/30 = $83.333… → $83.33
