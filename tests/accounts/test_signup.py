import pytest
from django.urls import reverse

from accounts.models import Membership, Role, Tenant, User


@pytest.mark.django_db
def test_signup_creates_tenant_on_free_with_signer_in_every_role(client):
    response = client.post(
        reverse("account_signup"),
        {
            "name": "Hana Sato",
            "organisation": "Sato Trading K.K.",
            "email": "hana@sato.example",
            "password1": "a-long-unusual-passphrase-42",
            "password2": "a-long-unusual-passphrase-42",
        },
        follow=True,
    )
    assert response.status_code == 200
    user = User.objects.get(email="hana@sato.example")
    tenant = Tenant.objects.get(name="Sato Trading K.K.")
    assert Membership.objects.get(user=user, tenant=tenant).role == Role.OWNER
    assert tenant.representative == user
    assert tenant.payment_administrator == user
    assert tenant.license.plan.license_type == "free"
    assert tenant.license.current_period_end is None
    # The user lands on their customer view.
    assert response.redirect_chain[-1][0] == reverse("customer_view", args=[tenant.slug])
    assert "Sato Trading K.K." in response.content.decode()
    assert "No end date" in response.content.decode()


@pytest.mark.django_db
def test_signup_with_bad_input_keeps_what_was_typed_and_creates_nothing(client):
    response = client.post(
        reverse("account_signup"),
        {
            "name": "Hana Sato",
            "organisation": "",
            "email": "hana@sato.example",
            "password1": "a-long-unusual-passphrase-42",
            "password2": "different",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required" in body
    assert 'value="hana@sato.example"' in body
    assert 'value="Hana Sato"' in body
    assert not User.objects.filter(email="hana@sato.example").exists()
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_sign_in_with_email_and_password(client, user):
    from tests.factories import DEFAULT_PASSWORD

    response = client.post(reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    client.logout()
    response = client.post(reverse("account_login"), {"login": user.email, "password": "wrong"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
