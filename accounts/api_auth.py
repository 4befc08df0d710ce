"""Who calls the operator API: `Authorization: Bearer <key>` (accounts.ApiKey), and which tenant it may act for.

A platform key acts for every tenant (the operator's service); a tenant key for its own tenant only. For an
operation whose path names a tenant (`/tenants/{tenant}/…`), the tenant is checked here, before any parameter
or body is looked at: 401 `unauthenticated`, 403 `forbidden` (another tenant's key), 404 `not_found`.
"""

from django.core.cache import cache
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError

from .models import ApiKey, Tenant, hash_api_key


def authenticate(request) -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _space, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise ApplicationError(
            _("Send an API key as 'Authorization: Bearer <key>'."), code="unauthenticated", status=401
        )
    key = ApiKey.objects.select_related("tenant").filter(key_hash=hash_api_key(raw.strip())).first()
    if key is None or not key.is_active:
        raise ApplicationError(
            _("The API key is not valid or has been revoked."), code="unauthenticated", status=401
        )
    _touch(key)
    return key


def _touch(key: ApiKey) -> None:
    """Record last use at most once a minute per key (kept off the ingest hot path)."""
    if cache.add(f"apikey-touch-{key.pk}", 1, timeout=60):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=clock.now())


def authorise_tenant(key: ApiKey, tenant_slug: str) -> Tenant:
    if key.scope == ApiKey.Scope.TENANT:
        if key.tenant.slug != tenant_slug:
            raise ApplicationError(
                _("This API key is not valid for that tenant."), code="forbidden", status=403
            )
        return key.tenant
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    if tenant is None:
        raise ApplicationError(
            _("No tenant '%(slug)s'.") % {"slug": tenant_slug}, code="not_found", status=404
        )
    return tenant


def request_authenticate(request) -> ApiKey:
    """The request's key (and `request.api_tenant` when the path names a tenant), checked once per request."""
    cached = getattr(request, "_api_auth", None)
    if cached is not None:
        return cached
    key = authenticate(request)
    match = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("tenant") if match is not None else None
    request.api_tenant = authorise_tenant(key, slug) if slug is not None else None
    request.api_key = key
    request._api_auth = key
    return key


def api_tenant(request) -> Tenant:
    """The tenant named in the path, already authorised for the request's key."""
    return request.api_tenant


class ApiKeyAuth(HttpBearer):
    """The OpenAPI `bearer` security scheme; errors are ApplicationErrors (JSON with a code)."""

    def __call__(self, request):
        return request_authenticate(request)

    def authenticate(self, request, token):  # HttpBearer's hook; __call__ does the work
        return request_authenticate(request)
