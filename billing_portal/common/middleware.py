from django.conf import settings
from django.utils.translation import gettext_lazy as _


class ContentSecurityPolicyMiddleware:
    """Adds the Content-Security-Policy header built from settings.CONTENT_SECURITY_POLICY (directive → sources).

    Scripts and styles come from this site only (no inline script); Stripe.js and its frames are allowed from
    Stripe, or from the local stand-in when STRIPE_API_BASE points at it.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = build_policy(settings.CONTENT_SECURITY_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        if self.header and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.header
        return response


def build_policy(directives: dict) -> str:
    return "; ".join(
        f"{name} {' '.join(sources)}".strip() for name, sources in directives.items() if sources is not None
    )


class OperatorTimeZoneMiddleware:
    """Django admin reads and writes dates in the operator's time zone (BILLING_TIME_ZONE, default Asia/Tokyo),
    not UTC: a credit code "expiring 2027-03-31 23:59" typed by ops in Tokyo expires then, in Tokyo. Rows that
    belong to a tenant also show dates in the tenant's zone, labelled (billing_portal.common.admin.tenant_local)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from zoneinfo import ZoneInfo

        from django.conf import settings
        from django.utils import timezone

        if request.path.startswith("/admin/"):
            with timezone.override(ZoneInfo(settings.BILLING_TIME_ZONE)):
                return self.get_response(request)
        return self.get_response(request)


class RejectNulBytesMiddleware:
    """A NUL byte in a query string or a submitted form is never valid input here and PostgreSQL cannot store or
    compare it: answer 400 (JSON under /api/) before any view sees it, instead of a 500 from the database."""

    MESSAGE = _("The request contains a NUL character (\\x00), which is not allowed in any field.")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            "\x00" in request.path
            or self._has_nul(request.GET)
            or (
                request.method == "POST"
                and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
                and self._has_nul(request.POST)
            )
        ):
            from django.utils import translation

            # Before LocaleMiddleware: the answer follows the browser's (or API client's) Accept-Language.
            with translation.override(translation.get_language_from_request(request)):
                if request.path.startswith("/api/"):
                    from .api import error_response

                    return error_response("bad_request", self.MESSAGE, 400)
                from django.http import HttpResponseBadRequest

                return HttpResponseBadRequest(str(self.MESSAGE), content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _has_nul(query) -> bool:
        return any("\x00" in key or any("\x00" in value for value in query.getlist(key)) for key in query)
