"""The operator API's plumbing: bearer-key authentication, tenant scoping, JSON in and out, JSON errors.

    @api_view(["PUT"])
    def plan_update(request, tenant):   # `tenant` is the Tenant object, already authorised
        data = request.json             # parsed body (dict), 400 malformed_json before the view runs
        ...
        return {"plan": ...}            # dict → 200 JSON; or (dict, status); or an HttpResponse

Errors: raise ApplicationError (code, message, status) → `{"error": {"code", "message", ...extra}}`. The `code` is
stable English; the `message` is in the request's language (LocaleMiddleware: the client's `Accept-Language`,
English without one), rendered when the response is built (messages may be lazy translations).
"""

from functools import wraps

import orjson
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from accounts.models import ApiKey, Tenant, hash_api_key

from . import clock
from .exceptions import ApplicationError

MAX_BODY_BYTES = 8 * 1024 * 1024


def error_response(code: str, message, status: int, **extra) -> JsonResponse:
    """`message` may be a lazy translation: it is rendered here, in the language active for the request."""
    return JsonResponse({"error": {"code": code, "message": str(message), **extra}}, status=status,
                        json_dumps_params={"ensure_ascii": False})


def authenticate(request) -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _space, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise ApplicationError(_("Send an API key as 'Authorization: Bearer <key>'."), code="unauthenticated",
                               status=401)
    key = ApiKey.objects.select_related("tenant").filter(key_hash=hash_api_key(raw.strip())).first()
    if key is None or not key.is_active:
        raise ApplicationError(_("The API key is not valid or has been revoked."), code="unauthenticated",
                               status=401)
    _touch(key)
    return key


def _touch(key: ApiKey) -> None:
    """Record last use at most once a minute per key (kept off the ingest hot path)."""
    if cache.add(f"apikey-touch-{key.pk}", 1, timeout=60):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=clock.now())


def authorise_tenant(key: ApiKey, tenant_slug: str) -> Tenant:
    if key.scope == ApiKey.Scope.TENANT:
        if key.tenant.slug != tenant_slug:
            raise ApplicationError(_("This API key is not valid for that tenant."), code="forbidden", status=403)
        return key.tenant
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    if tenant is None:
        raise ApplicationError(_("No tenant '%(slug)s'.") % {"slug": tenant_slug}, code="not_found", status=404)
    return tenant


def parse_json(request):
    if not request.body:
        return {}
    if len(request.body) > MAX_BODY_BYTES:
        raise ApplicationError(_("The request body is too large."), code="payload_too_large", status=413)
    try:
        data = orjson.loads(request.body)  # C parser: the ingest API's 5,000-event bodies
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplicationError(_("The request body is not valid JSON: %(error)s") % {"error": exc},
                               code="malformed_json") from None
    if not isinstance(data, dict):
        raise ApplicationError(_("The request body must be a JSON object."), code="malformed_json")
    return data


def api_view(methods):
    """Decorate a view taking `tenant` (slug in the URL); it receives the authorised Tenant instead."""
    allowed = {m.upper() for m in methods}

    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, tenant=None, **kwargs):
            try:
                if request.method not in allowed:
                    raise ApplicationError(
                        _("Use %(methods)s.") % {"methods": ", ".join(sorted(allowed))}, code="method_not_allowed",
                        status=405,
                    )
                request.api_key = authenticate(request)
                if tenant is not None:
                    tenant = authorise_tenant(request.api_key, tenant)
                    kwargs["tenant"] = tenant
                request.json = parse_json(request) if request.method in {"POST", "PUT", "PATCH"} else {}
                result = view(request, **kwargs)
            except ApplicationError as exc:
                return error_response(exc.code, exc.message, exc.status, **exc.extra)
            if isinstance(result, HttpResponse):
                return result
            status = 200
            if isinstance(result, tuple):
                result, status = result
            return JsonResponse(result, status=status, json_dumps_params={"ensure_ascii": False})

        wrapper.api_methods = frozenset(allowed)
        return wrapper

    return decorator
