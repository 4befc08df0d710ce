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
    Authenticator.objects.create(
        user=staff, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )
    client.force_login(staff)
    assert client.get(reverse("admin:index")).status_code == 200


def test_non_staff_cannot_open_admin(client, user):
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code in (302, 403)


def test_pages_carry_a_content_security_policy(client, db):
    policy = client.get(reverse("account_login"))["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


def test_failed_sign_ins_are_throttled(client, user, settings):
    settings.LOGIN_THROTTLE = {"pair": (3, 900)}
    for _ in range(3):
        response = client.post(reverse("account_login"), {"login": user.email, "password": "wrong"})
        assert response.status_code == 200
    response = client.post(reverse("account_login"), {"login": user.email, "password": "wrong"})
    assert response.status_code == 429 or "Too many failed login attempts" in response.content.decode()
