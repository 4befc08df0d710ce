import pytest

from accounts.models import ApiKey, hash_api_key
from billing_portal.common import clock


def make_key(*, scope="platform", tenant=None, revoked=False):
    raw = ApiKey.generate_raw_key()
    ApiKey.objects.create(
        name="k",
        scope=scope,
        tenant=tenant,
        prefix=raw[:11],
        key_hash=hash_api_key(raw),
        revoked_at=clock.now() if revoked else None,
    )
    return raw


@pytest.mark.django_db
def test_whoami_needs_a_valid_bearer_key(client):
    response = client.get("/api/v1/whoami")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    response = client.get("/api/v1/whoami", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401
    raw = make_key(revoked=True)
    assert client.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    raw = make_key()
    response = client.get("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json() == {"name": "k", "scope": "platform", "tenant": None}
    assert ApiKey.objects.get(key_hash=hash_api_key(raw)).last_used_at is not None


@pytest.mark.django_db
def test_wrong_method_is_a_json_405(client):
    raw = make_key()
    response = client.post("/api/v1/whoami", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_tenant_key_cannot_reach_another_tenant(tenant, other_tenant):
    from accounts.api_auth import authorise_tenant
    from billing_portal.common.exceptions import ApplicationError

    raw = make_key(scope="tenant", tenant=tenant)
    key = ApiKey.objects.get(key_hash=hash_api_key(raw))
    assert authorise_tenant(key, tenant.slug) == tenant
    with pytest.raises(ApplicationError) as exc:
        authorise_tenant(key, other_tenant.slug)
    assert exc.value.status == 403
    platform = ApiKey.objects.get(key_hash=hash_api_key(make_key()))
    with pytest.raises(ApplicationError) as exc:
        authorise_tenant(platform, "no-such-tenant")
    assert exc.value.status == 404
