"""Sign-in throttling that cannot be used as a weapon, and client addresses only from trusted proxies."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from billing_portal.common.client_ip import client_ip
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
REFUSED = "Too many failed login attempts"


def sign_in(client, user, password, **meta):
    return client.post(LOGIN, {"login": user.email, "password": password}, **meta)


def sign_out(client):
    """Sign out as the browser would (the session ends; other cookies, like the known-device one, stay)."""
    client.post(reverse("account_logout"))
    assert "sessionid" not in client.cookies or not client.cookies["sessionid"].value


def signed_in(response) -> bool:
    return response.status_code == 302 and response.url == reverse("home")


def test_a_stranger_cannot_lock_the_owner_out(owner):
    stranger = Client()
    for _ in range(6):
        response = sign_in(stranger, owner, "guess", REMOTE_ADDR="203.0.113.66")
    assert REFUSED in response.content.decode()
    # The stranger's address is done with this account, even with the right password ...
    assert REFUSED in sign_in(stranger, owner, DEFAULT_PASSWORD, REMOTE_ADDR="203.0.113.66").content.decode()
    # ... but the owner, from their own address, signs in at once.
    assert signed_in(sign_in(Client(), owner, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.7"))


def test_failures_behind_one_address_do_not_block_a_colleague_who_signed_in_before(settings):
    settings.LOGIN_THROTTLE = {"ip": (10, 900)}
    colleague, newcomer = UserFactory(), UserFactory()
    office = "192.0.2.10"
    browser = Client()
    assert signed_in(sign_in(browser, colleague, DEFAULT_PASSWORD, REMOTE_ADDR=office))
    sign_out(browser)
    attacker = Client()
    for i in range(12):
        sign_in(attacker, UserFactory.build(email=f"victim{i}@example.test"), "guess", REMOTE_ADDR=office)
    # Credential stuffing from the office address stops unknown browsers there ...
    assert REFUSED in sign_in(Client(), newcomer, DEFAULT_PASSWORD, REMOTE_ADDR=office).content.decode()
    # ... not the colleague's browser, which has signed in to that account before.
    assert signed_in(sign_in(browser, colleague, DEFAULT_PASSWORD, REMOTE_ADDR=office))


def test_distributed_guessing_does_not_lock_out_a_known_browser_or_a_second_factor(owner, settings):
    from allauth.mfa.models import Authenticator

    settings.LOGIN_THROTTLE = {"account": (8, 3600)}
    own_browser = Client()
    assert signed_in(sign_in(own_browser, owner, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.7"))
    sign_out(own_browser)
    for i in range(10):  # a botnet: each address stays under the per-address limit
        sign_in(Client(), owner, "guess", REMOTE_ADDR=f"203.0.113.{i + 1}")
    # An unknown browser is refused for this account now, before the password is checked ...
    assert REFUSED in sign_in(Client(), owner, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.99").content.decode()
    # ... the owner's own browser is not.
    assert signed_in(sign_in(own_browser, owner, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.7"))

    # An account with an authenticator app: the correct password leads on to the second factor.
    staff = UserFactory()
    Authenticator.objects.create(
        user=staff, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )
    for i in range(10):
        sign_in(Client(), staff, "guess", REMOTE_ADDR=f"203.0.113.{i + 1}")
    response = sign_in(Client(), staff, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.99")
    assert response.status_code == 302 and response.url == reverse("mfa_authenticate")


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own_address(owner, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    via_proxy = {"REMOTE_ADDR": "10.0.0.5"}
    for _ in range(6):
        sign_in(Client(), owner, "guess", HTTP_X_FORWARDED_FOR="203.0.113.66", **via_proxy)
    assert (
        REFUSED
        in sign_in(
            Client(), owner, DEFAULT_PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.66", **via_proxy
        ).content.decode()
    )
    # Another client behind the same proxy is not affected.
    assert signed_in(
        sign_in(Client(), owner, DEFAULT_PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **via_proxy)
    )


def test_forwarded_for_from_an_untrusted_peer_is_ignored(owner, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    # The attacker connects directly and writes a new X-Forwarded-For on every try: still one address.
    for i in range(6):
        sign_in(Client(), owner, "guess", REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
    assert (
        REFUSED
        in sign_in(
            Client(),
            owner,
            DEFAULT_PASSWORD,
            REMOTE_ADDR="203.0.113.66",
            HTTP_X_FORWARDED_FOR="198.51.100.200",
        ).content.decode()
    )


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.9", "", "203.0.113.9"),  # no proxy
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.5", "198.51.100.7", "198.51.100.7"),  # one trusted proxy
        ("10.0.0.5", "1.2.3.4, 198.51.100.7, 10.1.1.1", "198.51.100.7"),  # spoofed left part skipped
        ("10.0.0.5", "", "10.0.0.5"),  # proxy's own request
        ("10.0.0.5", "not-an-ip", "10.0.0.5"),
        ("10.0.0.5", "[2001:db8::1]:443", "2001:db8::1"),
    ],
)
def test_client_ip(settings, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
