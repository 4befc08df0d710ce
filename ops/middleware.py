"""A test tenant's pages and API answer on its test clock: `clock.now()` is its time for the request."""

import re

from billing_portal.common import clock

from .models import TestClock

_TENANT_PATH = re.compile(r"^/(?:t|api/v1/tenants)/([^/]+)/")


class TenantClockMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = _TENANT_PATH.match(request.path_info)
        if match is None:
            return self.get_response(request)
        bound = TestClock.objects.filter(tenant__slug=match.group(1)).values_list("tenant_id", "frozen_time").first()
        if bound is None:  # every real tenant: one indexed lookup, then the real time
            return self.get_response(request)
        with clock.tenant_scope(bound[0], at=bound[1]):
            return self.get_response(request)
