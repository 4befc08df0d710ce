from django.urls import reverse

from accounts.models import Role
from tests.factories import MembershipFactory


def test_customer_view_shows_customer_representative_payment_admin_and_free_license(
    owner_client, tenant, owner
):
    tenant.address = "1-2-3 Marunouchi"
    tenant.phone = "+81 3-1234-5678"
    tenant.save()
    body = owner_client.get(reverse("customer_view", args=[tenant.slug])).content.decode()
    for text in [
        "Customer information",
        tenant.name,
        "1-2-3 Marunouchi",
        "+81 3-1234-5678",
        "Edit customer",
        "Representative information",
        "Change representative",
        owner.email,
        "Payment administrator",
        "License information",
        "Free",
        "No end date",
        "Maximum number of registered RPs",
        "Maximum number of registered users",
    ]:
        assert text in body, text


def test_manager_reads_but_cannot_edit(client, tenant, manager):
    client.force_login(manager)
    body = client.get(reverse("customer_view", args=[tenant.slug])).content.decode()
    assert tenant.name in body
    assert "Edit customer" not in body
    assert "Change representative" not in body
    assert client.get(reverse("customer_edit", args=[tenant.slug])).status_code == 403
    assert client.post(reverse("customer_edit", args=[tenant.slug]), {"name": "Hijack"}).status_code == 403
    tenant.refresh_from_db()
    assert tenant.name != "Hijack"


def test_member_sees_no_billing_pages(client, tenant, plain_member):
    client.force_login(plain_member)
    assert client.get(reverse("customer_view", args=[tenant.slug])).status_code == 403
    body = client.get(reverse("tenant_home", args=[tenant.slug])).content.decode()
    assert "Billing pages are available to" in body
    assert reverse("customer_view", args=[tenant.slug]) not in body


def test_billing_admin_edits_customer(client, tenant, billing_admin):
    client.force_login(billing_admin)
    url = reverse("customer_edit", args=[tenant.slug])
    response = client.post(
        url, {"name": "New Name K.K.", "address": "Osaka", "phone": "+81 6-1111-2222", "country": "jp"}
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.name, tenant.address, tenant.country) == ("New Name K.K.", "Osaka", "JP")
    assert "Customer information saved." in client.get(response.url).content.decode()


def test_bad_customer_input_shows_errors_keeps_input_and_saves_nothing(owner_client, tenant):
    original = tenant.name
    response = owner_client.post(
        reverse("customer_edit", args=[tenant.slug]),
        {"name": "", "address": "Kept Address 9", "phone": "call me maybe", "country": "Japan"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required." in body
    assert "Enter a phone number" in body
    assert "two-letter country code" in body
    assert 'value="Kept Address 9"' in body
    assert 'value="call me maybe"' in body
    tenant.refresh_from_db()
    assert tenant.name == original
    assert tenant.address != "Kept Address 9"


def test_change_representative_to_another_member(owner_client, tenant, manager):
    response = owner_client.post(reverse("representative_change", args=[tenant.slug]), {"user": manager.pk})
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.representative == manager


def test_representative_must_be_a_member(owner_client, tenant, other_tenant):
    outsider = other_tenant.representative
    response = owner_client.post(reverse("representative_change", args=[tenant.slug]), {"user": outsider.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.representative != outsider


def test_change_payment_administrator_and_safe_next(owner_client, tenant, billing_admin):
    url = reverse("payment_administrator_change", args=[tenant.slug])
    response = owner_client.post(url, {"user": billing_admin.pk, "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response.url == reverse("customer_view", args=[tenant.slug])
    tenant.refresh_from_db()
    assert tenant.payment_administrator == billing_admin


def test_user_switches_between_tenants(client, tenant, other_tenant, manager):
    MembershipFactory(tenant=other_tenant, user=manager, role=Role.OWNER)
    client.force_login(manager)
    body = client.get(reverse("customer_view", args=[tenant.slug])).content.decode()
    assert reverse("tenant_home", args=[other_tenant.slug]) in body  # the switcher lists both
    client.get(reverse("customer_view", args=[other_tenant.slug]))
    # Home remembers the tenant used last.
    assert client.get(reverse("home")).url == reverse("tenant_home", args=[other_tenant.slug])


def test_billing_dashboard_shows_payment_administrator_and_license(owner_client, tenant, owner):
    body = owner_client.get(reverse("billing_dashboard", args=[tenant.slug])).content.decode()
    for text in [
        "Payment administrator information",
        owner.email,
        "Payment account information",
        "Create payment account",
        "License information",
        "Free",
    ]:
        assert text in body, text


def test_dates_are_shown_in_the_tenant_time_zone(owner_client, tenant):
    from datetime import UTC, datetime

    tenant.license.current_period_start = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    tenant.license.save()
    body = owner_client.get(reverse("customer_view", args=[tenant.slug])).content.decode()
    assert "2026-04-01 00:00 JST" in body


def test_change_payment_administrator_from_the_dashboard_returns_there(owner_client, tenant, billing_admin):
    dashboard = reverse("billing_dashboard", args=[tenant.slug])
    body = owner_client.get(dashboard).content.decode()
    change = reverse("payment_administrator_change", args=[tenant.slug])
    assert f"{change}?next={dashboard}" in body
    response = owner_client.post(change, {"user": billing_admin.pk, "next": dashboard})
    assert response.url == dashboard
