"""Walks every tenant-scoped URL: anonymous → sign-in, other tenant → 404, role not allowed → 403."""

import pytest
from django.urls import reverse

from accounts.models import Role
from tests.factories import MembershipFactory
from tests.tenant_urls import SAMPLE_KWARGS, extra_kwarg_names, tenant_url_patterns

PATTERNS = tenant_url_patterns()


def _url(pattern, tenant, kwargs_tenant=None):
    extra = {}
    if extra_kwarg_names(pattern):
        extra = SAMPLE_KWARGS[pattern.name](kwargs_tenant or tenant)
    return reverse(pattern.name, kwargs={"tenant_slug": tenant.slug, **extra})


def test_the_walk_finds_the_tenant_pages():
    names = {p.name for _, p in PATTERNS}
    assert {"tenant_home", "customer_view", "customer_edit", "representative_change"} <= names


@pytest.mark.parametrize(("route", "pattern"), PATTERNS, ids=[p.name for _, p in PATTERNS])
def test_every_tenant_url_is_named_declares_roles_and_has_sample_kwargs(route, pattern):
    assert pattern.name, f"{route} needs a name"
    assert hasattr(pattern.callback, "tenant_roles"), (
        f"{pattern.name} must be wrapped by accounts.permissions.tenant_view"
    )
    missing = extra_kwarg_names(pattern) and pattern.name not in SAMPLE_KWARGS
    assert not missing, f"add {pattern.name} to tests/tenant_urls.SAMPLE_KWARGS"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "pattern"), PATTERNS, ids=[p.name for _, p in PATTERNS])
def test_isolation_and_roles(client, tenant, other_tenant, route, pattern):
    url = _url(pattern, tenant)

    # Anonymous: redirected to sign-in.
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))

    # A member (even the owner) of another tenant: 404 for the page and for the object.
    client.force_login(other_tenant.representative)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404

    # Each role of this tenant: allowed roles get the page, the others 403.
    for role in Role:
        user = MembershipFactory(tenant=tenant, role=role).user
        client.force_login(user)
        status = client.get(url).status_code
        if role in pattern.callback.tenant_roles:
            assert status in (200, 302, 405), f"{role} on {pattern.name}: {status}"
        else:
            assert status == 403, f"{role} on {pattern.name}: {status}"
            assert client.post(url).status_code == 403

    # An object of the other tenant addressed under this tenant's URL: 404 even for this tenant's owner.
    if extra_kwarg_names(pattern):
        client.force_login(tenant.representative)
        foreign = _url(pattern, tenant, kwargs_tenant=other_tenant)
        assert client.get(foreign).status_code in (404, 405)  # 405: POST-only action
        assert client.post(foreign).status_code == 404
