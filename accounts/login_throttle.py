"""Sign-in throttling that a stranger cannot turn against the account holder.

Failed password attempts are counted in three buckets (settings.LOGIN_THROTTLE):

- `pair`: this account from this client address. Exceeded → this address cannot try this account for a while.
  A stranger guessing an owner's password locks out only themselves; the owner, from anywhere else, signs in.
- `ip`: any account from this client address (credential stuffing). Exceeded → that address is refused, except
  for browsers that signed in to the account before (below).
- `account`: this account from all addresses (a distributed guesser). Exceeded → sign-in from unknown browsers is
  refused, except for accounts with a second factor: their correct password still leads to the authenticator
  step, so a correct password plus the second factor passes.

A browser that completes a sign-in gets a signed "known device" cookie for that account (OWASP "device
cookies"); it is subject to the `pair` bucket only, so neither a botnet nor a colleague behind the same NAT
can lock the owner out of the browser they use. Client addresses come from `client_ip` (X-Forwarded-For only
from TRUSTED_PROXIES). Counters live in the cache, which fails open: while Redis is down nobody is throttled
(logged), rather than nobody signing in.
"""

import hashlib

from django.conf import settings
from django.core import signing

from billing_portal.common import ratelimit
from billing_portal.common.client_ip import client_ip

DEVICE_COOKIE = "bp_known_device"
DEVICE_SALT = "accounts.login_throttle.known-device"
DEVICE_MAX_AGE = 180 * 24 * 3600
DEVICE_MAX_ACCOUNTS = 10

DEFAULT_LIMITS = {"pair": (5, 15 * 60), "ip": (30, 15 * 60), "account": (20, 60 * 60)}


def _limits() -> dict:
    return {**DEFAULT_LIMITS, **getattr(settings, "LOGIN_THROTTLE", {})}


def _account_id(email: str) -> str:
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:24]


def _keys(request, email: str) -> dict:
    account, ip = _account_id(email), client_ip(request)
    return {
        "pair": f"login-failed:pair:{account}:{ip}",
        "ip": f"login-failed:ip:{ip}",
        "account": f"login-failed:account:{account}",
    }


def known_accounts(request) -> list[str]:
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        value = signing.loads(raw, salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def is_known_device(request, email: str) -> bool:
    return _account_id(email) in known_accounts(request)


def _has_second_factor(email: str) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(
        user__email__iexact=(email or "").strip(), type=Authenticator.Type.TOTP
    ).exists()


def refused(request, email: str) -> str | None:
    """The bucket that refuses this attempt (before the password is even checked), or None."""
    limits, keys = _limits(), _keys(request, email)
    if ratelimit.count(keys["pair"]) >= limits["pair"][0]:
        return "pair"
    if is_known_device(request, email):
        return None
    if ratelimit.count(keys["ip"]) >= limits["ip"][0]:
        return "ip"
    if ratelimit.count(keys["account"]) >= limits["account"][0] and not _has_second_factor(email):
        return "account"
    return None


def record_failure(request, email: str) -> None:
    limits, keys = _limits(), _keys(request, email)
    buckets = ["pair"] if is_known_device(request, email) else ["pair", "ip", "account"]
    for bucket in buckets:
        ratelimit.record(keys[bucket], window_seconds=limits[bucket][1])


def record_success(request, email: str) -> None:
    """The right password from this address: its own failures no longer count (the shared buckets stay)."""
    ratelimit.reset(_keys(request, email)["pair"])


def remember_device(request, response, email: str) -> None:
    """After a completed sign-in: this browser is known for this account from now on."""
    account = _account_id(email)
    accounts = [account, *[a for a in known_accounts(request) if a != account]][:DEVICE_MAX_ACCOUNTS]
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps(accounts, salt=DEVICE_SALT),
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )
