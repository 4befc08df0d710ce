import pytest
from django.urls import reverse

from accounts.models import Tenant, User


@pytest.mark.django_db
def test_invited_people_sign_up_without_creating_an_organisation(client):
    data = {
        "name": "In Vitee",
        "organisation": "",
        "email": "invitee@example.test",
        "password1": "a-long-unusual-passphrase-42",
        "password2": "a-long-unusual-passphrase-42",
    }
    response = client.post(reverse("account_signup"), data)
    assert "This field is required" in response.content.decode()  # a plain sign-up needs an organisation
    assert not User.objects.filter(email="invitee@example.test").exists()
    response = client.post(reverse("account_signup"), {**data, "next": "/invitations/abc/"})
    assert response.status_code == 302 and response.url == "/invitations/abc/"
    assert User.objects.filter(email="invitee@example.test").exists()
    assert not Tenant.objects.exists()
