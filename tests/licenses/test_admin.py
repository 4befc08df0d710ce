"""Django admin: catalogue validation, read-only license with plan history, ops plan change (always_invoice)."""

import pytest
import time_machine
from django.urls import reverse

from licenses.models import Menu, Plan, PricingUnit, ProrationItem
from licenses.selectors import license_get
from tests.factories import UserFactory

from .conftest import buy, jst

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def unit_form(**overrides):
    data = {
        "unit_name": "api-calls-jpy",
        "display_name": "API calls",
        "description": "",
        "type": "usage",
        "metering_unit": "",
        "currency": "JPY",
        "interval": "month",
        "unit_amount": "2",
        "tiers-TOTAL_FORMS": "0",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
    }
    return {**data, **overrides}


def test_duplicate_pricing_unit_name_is_a_form_error(admin_client):
    url = reverse("admin:licenses_pricingunit_add")
    assert admin_client.post(url, unit_form()).status_code == 302
    response = admin_client.post(url, unit_form())
    assert response.status_code == 200
    assert "A pricing unit with this unit name already exists." in response.content.decode()


def test_tiered_unit_with_tiers_inline(admin_client):
    data = unit_form(
        unit_name="tiered-jpy",
        type="tiered",
        **{
            "tiers-TOTAL_FORMS": "2",
            "tiers-0-up_to": "100",
            "tiers-0-unit_amount": "0",
            "tiers-0-flat_amount": "1000",
            "tiers-1-up_to": "",
            "tiers-1-unit_amount": "0",
            "tiers-1-flat_amount": "5000",
        },
    )
    assert admin_client.post(reverse("admin:licenses_pricingunit_add"), data).status_code == 302
    unit = PricingUnit.objects.get(unit_name="tiered-jpy")
    assert [(t.up_to, t.flat_amount) for t in unit.tiers.all()] == [(100, 1000), (None, 5000)]


def plan_form(menus, **overrides):
    data = {
        "code": "mixed",
        "name": "Mixed",
        "category": "license",
        "license_type": "business",
        "currency": "JPY",
        "interval": "month",
        "menus": [m.pk for m in menus],
        "max_rps": "",
        "max_users": "",
        "max_mau": "",
        "mau_overage_unit_amount": "0",
        "is_public": "on",
        "sort_order": "50",
    }
    return {**data, **overrides}


def test_plan_mixing_monthly_and_yearly_units_is_rejected(admin_client):
    monthly = Menu.objects.get(name="starter-jpy")
    yearly_unit = PricingUnit.objects.create(
        unit_name="yearly-fee",
        display_name="Yearly fee",
        currency="JPY",
        interval="year",
        unit_amount=250_000,
    )
    yearly = Menu.objects.create(name="yearly", display_name="Yearly")
    yearly.units.add(yearly_unit)
    response = admin_client.post(reverse("admin:licenses_plan_add"), plan_form([monthly, yearly]))
    assert response.status_code == 200
    assert "A plan cannot mix monthly and yearly pricing units." in response.content.decode()
    assert not Plan.objects.filter(code="mixed").exists()
    ok = admin_client.post(reverse("admin:licenses_plan_add"), plan_form([monthly]))
    assert ok.status_code == 302


def test_ops_change_plan_uses_always_invoice_and_history_is_visible(admin_client, tenant):
    buy(tenant, "starter", jst(2027, 3, 1))
    license = license_get(tenant=tenant)
    url = reverse("admin:licenses_license_change_plan", args=[license.pk])
    business = Plan.objects.get(code="business", currency="JPY")
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        admin_client.force_login(UserFactory(email="ops@example.test", is_staff=True, is_superuser=True))
        assert admin_client.get(url).status_code == 200
        response = admin_client.post(url, {"plan": business.pk, "when": "now"})
        assert response.status_code == 302
        page = admin_client.get(reverse("admin:licenses_license_change", args=[license.pk])).content.decode()
    assert license_get(tenant=tenant).plan.code == "business"
    assert set(ProrationItem.objects.filter(tenant=tenant).values_list("billing", flat=True)) == {"immediate"}
    assert "Starter → Business" in page and "¥968" in page and "Django admin" in page


def test_ops_change_plan_shows_service_errors(admin_client, tenant):
    license = license_get(tenant=tenant)
    business = Plan.objects.get(code="business", currency="JPY")
    response = admin_client.post(
        reverse("admin:licenses_license_change_plan", args=[license.pk]), {"plan": business.pk, "when": "now"}
    )
    assert response.status_code == 200
    assert "Create a payment account first." in response.content.decode()
