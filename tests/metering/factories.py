from accounts.models import ApiKey, RelyingParty, hash_api_key


def make_api_key(*, tenant=None, revoked=False):
    """A raw bearer key: tenant scope when `tenant` is given, else platform scope."""
    from billing_portal.common import clock

    raw = ApiKey.generate_raw_key()
    ApiKey.objects.create(
        name="test key",
        scope=ApiKey.Scope.TENANT if tenant else ApiKey.Scope.PLATFORM,
        tenant=tenant,
        prefix=raw[:11],
        key_hash=hash_api_key(raw),
        revoked_at=clock.now() if revoked else None,
    )
    return raw


def make_rps(tenant, *rp_ids):
    for rp_id in rp_ids:
        RelyingParty.objects.get_or_create(tenant=tenant, rp_id=rp_id)


def auth(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def event(event_id, user_id, occurred_at, rp="login.example.com"):
    return {"id": event_id, "rp": rp, "user_id": user_id, "occurred_at": occurred_at}
