"""Issue 11, invariants: no path leaves a tenant above its plan's limits, and no path mixes yearly and monthly
pricing units in a plan (admin edits of menus and pricing units included)."""

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from accounts.models import EndUser, RelyingParty, Tenant
from billing_portal.common.exceptions import LimitExceeded
from licenses.models import Menu, PlanReservation, PricingUnit
from licenses.registrations import end_user_register, relying_party_register, relying_party_remove
from licenses.selectors import free_plan_get, license_get, plan_get
from licenses.services import license_cancel, license_reserve_change, licenses_roll_over
from tests.factories import UserFactory

from .conftest import buy, jst

pytestmark = pytest.mark.django_db


def plan(tenant, code):
    return plan_get(code=code, currency=tenant.currency)


def rps(tenant, n):
    for i in range(n):
        RelyingParty.objects.create(tenant=tenant, rp_id=f"rp{i}.example.com")


def test_cancel_to_free_above_free_limits_is_refused_and_names_what_to_remove(tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    free = free_plan_get(currency="JPY")
    rps(tenant, free.max_rps + 2)
    with time_machine.travel(jst(2027, 3, 10), tick=False), pytest.raises(LimitExceeded) as exc:
        license_cancel(tenant=tenant)
    assert (
        f"cannot cancel to Free: {free.max_rps + 2} RPs are registered but Free allows {free.max_rps}"
        in exc.value.message
    )
    assert "remove 2 RPs (registered: " in exc.value.message and "rp0.example.com" in exc.value.message
    assert license_get(tenant=tenant).auto_renew is True


def test_contract_page_cancellation_shows_the_limits_refusal(client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    rps(tenant, free_plan_get(currency="JPY").max_rps + 1)
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        client.force_login(tenant.representative)
        terms = {name: "on" for name in ("no_renewal", "no_refund", "free_limits", "open_invoices")}
        page = client.post(
            reverse("contract_cancel", args=[tenant.slug]), {**terms, "step": "confirm"}, follow=True
        )
    assert "remove 1 RP (registered: " in page.content.decode()
    assert license_get(tenant=tenant).auto_renew is True


def test_registrations_after_a_reserved_downgrade_are_held_to_the_target_limits(tenant):
    buy(tenant, "business", jst(2027, 3, 1))  # Business: 10 RPs; Starter: 3
    rps(tenant, 3)
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        license_reserve_change(tenant=tenant, plan=plan(tenant, "starter"))
        with pytest.raises(
            LimitExceeded, match="becomes Starter on 2027-04-01 00:00 JST, which allows at most 3"
        ):
            relying_party_register(tenant=tenant, rp_id="rp-late.example.com")


def test_registrations_after_a_cancellation_are_held_to_free_limits(tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    free = free_plan_get(currency="JPY")
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        license_cancel(tenant=tenant)
        for i in range(free.max_users):
            EndUser.objects.create(tenant=tenant, user_id=f"u{i}")
        with pytest.raises(LimitExceeded, match="becomes Free"):
            end_user_register(tenant=tenant, user_id="one-too-many")


def test_reserved_downgrade_that_no_longer_fits_is_not_applied_and_the_customer_is_told(
    tenant, django_capture_on_commit_callbacks
):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        reservation = license_reserve_change(tenant=tenant, plan=plan(tenant, "starter"))
    rps(tenant, 5)  # ops created rows directly, around the services
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        licenses_roll_over(tenant=tenant, at=jst(2027, 4, 1, 0, 1))
    license = license_get(tenant=tenant)
    assert license.plan.code == "business" and license.current_period_end == jst(2027, 5, 1)
    reservation.refresh_from_db()
    assert reservation.status == PlanReservation.Status.CANCELLED
    body = mail.outbox[-1].body
    assert (
        "could not take effect" in body and "5 RPs are registered but Starter allows 3: remove 2 RPs" in body
    )


def test_cancellation_that_no_longer_fits_suspends_until_enough_is_removed(
    tenant, django_capture_on_commit_callbacks
):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        license_cancel(tenant=tenant)
    free = free_plan_get(currency="JPY")
    rps(tenant, free.max_rps + 1)  # around the services
    with django_capture_on_commit_callbacks(execute=True):
        licenses_roll_over(tenant=tenant, at=jst(2027, 4, 1, 0, 1))
    tenant.refresh_from_db()
    assert license_get(tenant=tenant).plan.is_free
    assert tenant.status == Tenant.Status.SUSPENDED
    assert "remove 1 RP" in mail.outbox[-1].body
    relying_party_remove(tenant=tenant, rp_id="rp0.example.com")
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_cannot_turn_a_monthly_plans_unit_yearly(admin_client):
    unit = Menu.objects.get(name="starter-jpy").units.first()
    data = {
        "unit_name": unit.unit_name,
        "display_name": unit.display_name,
        "description": unit.description,
        "type": unit.type,
        "metering_unit": "",
        "currency": unit.currency,
        "interval": "year",
        "unit_amount": str(unit.unit_amount),
        "tiers-TOTAL_FORMS": "0",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(reverse("admin:licenses_pricingunit_change", args=[unit.pk]), data)
    assert response.status_code == 200
    assert "is billed monthly but its units are yearly" in response.content.decode()
    unit.refresh_from_db()
    assert unit.interval == "month"


def test_admin_cannot_add_a_yearly_unit_to_a_menu_of_a_monthly_plan(admin_client):
    menu = Menu.objects.get(name="starter-jpy")
    yearly = PricingUnit.objects.create(
        unit_name="yearly-support",
        display_name="Yearly support",
        currency="JPY",
        interval="year",
        unit_amount=100_000,
    )
    # A menu of only yearly units is consistent by itself; the plan using it is not.
    response = admin_client.post(
        reverse("admin:licenses_menu_change", args=[menu.pk]),
        {"name": menu.name, "display_name": menu.display_name, "units": [yearly.pk]},
    )
    assert response.status_code == 200
    assert "is billed monthly but its units are yearly" in response.content.decode()
    assert yearly not in menu.units.all()


def test_code_paths_cannot_mix_intervals_either(db):
    menu = Menu.objects.get(name="starter-jpy")
    yearly = PricingUnit.objects.create(
        unit_name="yearly-x", display_name="Yearly", currency="JPY", interval="year"
    )
    with pytest.raises(ValidationError), transaction.atomic():
        menu.units.set([yearly])
    unit = menu.units.first()
    unit.interval = "year"
    with pytest.raises(ValidationError), transaction.atomic():
        unit.save()
    assert PricingUnit.objects.get(pk=unit.pk).interval == "month" and yearly not in menu.units.all()


def test_admin_cannot_lower_a_plans_limit_below_a_tenant_on_it(admin_client, tenant):
    from licenses.models import Plan

    buy(tenant, "business", jst(2027, 3, 1))
    rps(tenant, 4)
    business = Plan.objects.get(code="business", currency="JPY")
    data = {
        "code": business.code,
        "name": business.name,
        "category": business.category,
        "license_type": business.license_type,
        "currency": business.currency,
        "interval": business.interval,
        "menus": [m.pk for m in business.menus.all()],
        "max_rps": "3",
        "max_users": str(business.max_users),
        "max_mau": str(business.max_mau),
        "mau_overage_unit_amount": str(business.mau_overage_unit_amount),
        "is_public": "on",
        "sort_order": str(business.sort_order),
    }
    response = admin_client.post(reverse("admin:licenses_plan_change", args=[business.pk]), data)
    assert response.status_code == 200
    assert f"{tenant.name} has 4 RPs registered (limit 3)." in response.content.decode()
    business.refresh_from_db()
    assert business.max_rps == 10
