from django.conf import settings


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
    return "; ".join(f"{name} {' '.join(sources)}".strip() for name, sources in directives.items() if sources is not None)
