import pytest
from django.urls import reverse
from django.utils.html import escape

from accounts.models import ApiKey, hash_api_key
from tests.factories import UserFactory


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_changelists_render(staff_client, tenant):
    for name in [
        "accounts_tenant",
        "accounts_user",
        "accounts_membership",
        "accounts_apikey",
        "accounts_relyingparty",
        "accounts_enduser",
        "licenses_plan",
        "licenses_license",
    ]:
        response = staff_client.get(reverse(f"admin:{name}_changelist"))
        assert response.status_code == 200, name
    response = staff_client.get(reverse("admin:accounts_tenant_change", args=[tenant.pk]))
    assert response.status_code == 200
    assert escape(tenant.representative.display_name) in response.content.decode()


def test_tenant_search(staff_client, tenant, other_tenant):
    body = staff_client.get(reverse("admin:accounts_tenant_changelist"), {"q": tenant.name}).content.decode()
    assert tenant.name in body
    assert other_tenant.name not in body


def test_api_key_is_shown_once_and_stored_hashed(staff_client, tenant):
    response = staff_client.post(
        reverse("admin:accounts_apikey_add"),
        {"name": "Operator service", "scope": "platform", "tenant": ""},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="Operator service")
    body = response.content.decode()
    raw = body.split("it will not be shown again: ")[1].split("<")[0].strip()
    assert raw.startswith("bp_")
    assert key.key_hash == hash_api_key(raw)
    assert raw not in str(ApiKey.objects.values_list())
    # Later views show the prefix only.
    detail = staff_client.get(reverse("admin:accounts_apikey_change", args=[key.pk])).content.decode()
    assert raw not in detail
    assert key.prefix in detail


def test_api_key_scope_must_match_tenant(staff_client, tenant):
    response = staff_client.post(
        reverse("admin:accounts_apikey_add"), {"name": "Bad", "scope": "tenant", "tenant": ""}
    )
    assert response.status_code == 200
    assert not ApiKey.objects.filter(name="Bad").exists()


def test_license_is_read_only_in_admin(staff_client, tenant):
    response = staff_client.get(reverse("admin:licenses_license_change", args=[tenant.license.pk]))
    assert response.status_code == 200
    assert 'name="plan"' not in response.content.decode()
