"""What users see: the dashboard's four states, plan selection, confirmation with proration, limits in pages."""

import re

import pytest
import time_machine
from django.urls import reverse

from accounts.models import RelyingParty
from licenses.models import ProrationItem
from licenses.selectors import license_get, plan_get
from licenses.services import license_cancel, license_reserve_change

from .conftest import add_payment_account, add_payment_method, buy, jst

pytestmark = pytest.mark.django_db


def text(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def dashboard(client, tenant):
    response = client.get(reverse("billing_dashboard", args=[tenant.slug]))
    assert response.status_code == 200
    return text(response)


def test_state_1_free_without_payment_account(owner_client, tenant):
    page = dashboard(owner_client, tenant)
    assert "License type Free" in page
    assert "No end date" in page
    assert "Maximum number of registered RPs 1" in page
    assert "Maximum number of registered users 100" in page
    assert "Purchase license" not in page
    assert "Create a payment account to purchase a paid license." in page


def test_state_2_payment_account_offers_purchase(owner_client, tenant):
    add_payment_account(tenant)
    page = dashboard(owner_client, tenant)
    assert "Purchase license" in page
    assert "License update" not in page


def test_state_3_paid_license(owner_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        owner_client.force_login(tenant.representative)  # sessions expire when travelling
        response = owner_client.get(reverse("billing_dashboard", args=[tenant.slug]))
    page = text(response)
    assert "License type Business" in page
    assert "2027-03-01 – 2027-03-31" in page  # the period by its last day included
    assert "License update" in page and "Cancel license" in page
    assert "Maximum number of MAUs 10,000" in page
    assert "MAU usage count this month 0" in page
    assert b"<span data-mau-live>0</span>" in response.content
    assert "Purchase license" not in page


def test_state_4_reserved_downgrade_with_cancel_link(owner_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        owner_client.force_login(tenant.representative)  # sessions expire when travelling
        license_reserve_change(tenant=tenant, plan=plan_get(code="starter", currency="JPY"))
        response = owner_client.get(reverse("billing_dashboard", args=[tenant.slug]))
    page = text(response)
    assert "License to be updated next month: Starter" in page
    assert reverse("license_reservation_cancel", args=[tenant.slug]).encode() in response.content


def test_manager_sees_the_license_but_no_buttons(client, tenant, manager):
    buy(tenant, "business", jst(2027, 3, 1))
    client.force_login(manager)
    page = dashboard(client, tenant)
    assert "License type Business" in page
    assert "License update" not in page and "Cancel license" not in page
    assert (
        client.post(reverse("license_change", args=[tenant.slug]), {"plan": "enterprise"}).status_code == 403
    )


def test_cancelled_license_shows_its_end_and_undo(owner_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        owner_client.force_login(tenant.representative)  # sessions expire when travelling
        license_cancel(tenant=tenant)
        page = dashboard(owner_client, tenant)
    assert "This license is cancelled: it runs until 2027-04-01 00:00 JST, then becomes Free." in page
    assert "Undo cancellation" in page


def test_plan_selection_shows_plans_side_by_side_in_the_tenant_currency(owner_client, tenant):
    add_payment_account(tenant)
    page = text(owner_client.get(reverse("license_plans", args=[tenant.slug])))
    for expected in (
        "Starter ¥25,000 / month",
        "Business ¥28,000 / month",
        "Enterprise ¥150,000 / month",
        "Current plan",
        "Select Business",
    ):
        assert expected in page
    assert "$" not in page and "Premium support" not in page


def test_confirmation_shows_reference_proration_and_changes_nothing_until_confirmed(owner_client, tenant):
    buy(tenant, "starter", jst(2027, 3, 1))
    url = reverse("license_change", args=[tenant.slug])
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        owner_client.force_login(tenant.representative)  # sessions expire when travelling
        page = text(owner_client.get(url, {"plan": "business"}))
        assert "Unused time on Starter -¥8,064" in page
        assert "Remaining time on Business ¥9,032" in page
        assert "Difference ¥968" in page
        assert "Charged now, tax included ¥1,065" in page
        assert license_get(tenant=tenant).plan.code == "starter"
        response = owner_client.post(url, {"plan": "business"})
    assert response.status_code == 302
    assert license_get(tenant=tenant).plan.code == "business"
    assert ProrationItem.objects.filter(tenant=tenant, billing="immediate").count() == 3  # purchase + 2 lines
    follow = text(owner_client.get(response.url))
    assert "The license is now Business. Difference before tax: ¥968." in follow


def test_downgrade_in_the_portal_is_reserved_for_next_month(owner_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    url = reverse("license_change", args=[tenant.slug])
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        owner_client.force_login(tenant.representative)  # sessions expire when travelling
        page = text(owner_client.get(url, {"plan": "starter"}))
        assert "Business continues until 2027-04-01 00:00 JST" in page
        owner_client.post(url, {"plan": "starter"})
        assert "License to be updated next month: Starter" in dashboard(owner_client, tenant)
        # Cancel the reservation through its confirmation page.
        cancel_url = reverse("license_reservation_cancel", args=[tenant.slug])
        assert "Cancel reservation" in text(owner_client.get(cancel_url))
        owner_client.post(cancel_url)
        assert "License to be updated next month" not in dashboard(owner_client, tenant)
    assert license_get(tenant=tenant).plan.code == "business"


def test_purchase_without_a_payment_method_is_refused_in_the_page(owner_client, tenant):
    add_payment_account(tenant)
    dashboard = text(owner_client.get(reverse("billing_dashboard", args=[tenant.slug])))
    assert "Please register your payment method before setting your plan" in dashboard
    url = reverse("license_change", args=[tenant.slug])
    page = text(owner_client.get(url, {"plan": "business"}))
    assert "Please register your payment method before setting your plan" in page
    assert "Purchase Business" not in page  # no button
    response = owner_client.post(url, {"plan": "business"})
    assert response.status_code == 400
    assert "Please register your payment method before setting your plan" in text(response)
    assert license_get(tenant=tenant).plan.is_free


def test_purchase_in_the_portal(owner_client, tenant):
    add_payment_account(tenant)
    add_payment_method(tenant)
    url = reverse("license_change", args=[tenant.slug])
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        owner_client.force_login(tenant.representative)  # sessions expire when travelling
        page = text(owner_client.get(url, {"plan": "business"}))
        assert "Remaining time on Business ¥9,032" in page and "Unused time" not in page
        response = owner_client.post(url, {"plan": "business"})
    assert response.status_code == 302
    assert license_get(tenant=tenant).plan.code == "business"


def test_purchase_without_payment_account_is_refused_in_the_page(owner_client, tenant):
    response = owner_client.post(reverse("license_change", args=[tenant.slug]), {"plan": "business"})
    assert response.status_code == 400
    assert "Create a payment account first." in text(response)
    assert license_get(tenant=tenant).plan.is_free


def test_downgrade_over_limits_is_refused_in_the_page_with_the_reason(owner_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    for i in range(4):
        RelyingParty.objects.create(tenant=tenant, rp_id=f"rp{i}.example.com")
    page = text(owner_client.get(reverse("license_change", args=[tenant.slug]), {"plan": "starter"}))
    assert "4 RPs are registered but Starter allows 3" in page
    assert "Reserve change to Starter" not in page


def test_unknown_plan_in_the_url_goes_back_to_the_plan_list(owner_client, tenant):
    response = owner_client.get(
        reverse("license_change", args=[tenant.slug]), {"plan": "platinum"}, follow=True
    )
    assert "There is no license plan &#x27;platinum&#x27;." in response.content.decode()


def test_dashboard_cancel_goes_through_the_contract_terms_and_review(owner_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        owner_client.force_login(tenant.representative)  # sessions expire when travelling
        dashboard = owner_client.get(reverse("billing_dashboard", args=[tenant.slug])).content.decode()
        contract = reverse("contract", args=[tenant.slug])
        assert f'href="{contract}#cancel-h">Cancel license</a>' in dashboard
        url = reverse("license_cancel", args=[tenant.slug])
        assert owner_client.get(url)["Location"] == f"{contract}#cancel-h"
        assert owner_client.post(url).status_code == 405
        assert license_get(tenant=tenant).auto_renew  # a bare POST no longer cancels
        terms = {name: "on" for name in ("no_renewal", "no_refund", "free_limits", "open_invoices")}
        review = text(owner_client.post(reverse("contract_cancel", args=[tenant.slug]), terms))
        assert "Review the contract cancellation" in review
        owner_client.post(reverse("contract_cancel", args=[tenant.slug]), {**terms, "step": "confirm"})
        assert not license_get(tenant=tenant).auto_renew
        owner_client.post(reverse("license_resume", args=[tenant.slug]))
    assert license_get(tenant=tenant).auto_renew


def test_rp_limit_error_is_shown_in_the_page(owner_client, tenant):
    url = reverse("relying_parties", args=[tenant.slug])
    assert owner_client.post(url, {"rp_id": "login.example.com"}).status_code == 302
    response = owner_client.post(url, {"rp_id": "second.example.com"})
    assert response.status_code == 400
    page = text(response)
    assert "The Free license allows at most 1 registered RPs. Update the license to register more." in page
    assert 'value="second.example.com"' in response.content.decode()  # input kept
    assert "login.example.com" in page and "1 of 1 RPs registered" in page


def test_end_user_limit_error_is_shown_in_the_page(owner_client, tenant):
    from licenses.models import Plan

    Plan.objects.filter(code="free", currency="JPY").update(max_users=1)
    url = reverse("end_users", args=[tenant.slug])
    owner_client.post(url, {"user_id": "alice"})
    page = text(owner_client.post(url, {"user_id": "bob"}))
    assert "The Free license allows at most 1 registered users." in page
    assert "The user alice is already registered." in text(owner_client.post(url, {"user_id": "alice"}))


def test_manager_reads_rps_but_cannot_register(client, tenant, manager):
    client.force_login(manager)
    url = reverse("relying_parties", args=[tenant.slug])
    page = text(client.get(url))
    assert "Registered RPs" in page and "Register an RP" not in page
    assert client.post(url, {"rp_id": "x.example.com"}).status_code == 403
    assert not RelyingParty.objects.filter(tenant=tenant).exists()


def test_customer_view_license_panel_paid(owner_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    page = text(owner_client.get(reverse("customer_view", args=[tenant.slug])))
    assert "License type Business" in page
    assert "Maximum number of MAUs 10,000" in page and "MAU usage count this month 0" in page
