import pytest
from django.urls import reverse

from tests.factories import UserFactory


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


def test_admin_sign_in_goes_through_allauth(client, db):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_staff_without_mfa_are_sent_to_set_it_up_when_required(client, staff, settings):
    settings.STAFF_MFA_REQUIRED = True
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")
    # allauth asks for the password again before showing the authenticator set-up.
    assert client.get(response.url, follow=True).status_code == 200


def test_staff_with_totp_reach_admin(client, staff, settings):
    from allauth.mfa.models import Authenticator

    settings.STAFF_MFA_REQUIRED = True
    Authenticator.objects.create(user=staff, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"})
    client.force_login(staff)
    assert client.get(reverse("admin:index")).status_code == 200


def test_non_staff_cannot_open_admin(client, user):
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code in (302, 403)
