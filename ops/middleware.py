"""A test tenant's pages and API answer on its test clock: `clock.now()` is its time for the request.

Real tenants' requests (the ingest hot path) cost no query: each process keeps the set of test tenants' slugs for
SLUGS_SECONDS (a test tenant created moments ago may see the real time for that long); a test tenant's clock
time itself is always read fresh."""

import re
import time

from billing_portal.common import clock

from .models import TestClock

_TENANT_PATH = re.compile(r"^/(?:t|api/v1/tenants)/([^/]+)/")
SLUGS_SECONDS = 5.0
_slugs: list = [0.0, frozenset()]  # [valid until (monotonic), slugs]


def test_tenant_slugs() -> frozenset:
    if time.monotonic() >= _slugs[0]:
        _slugs[1] = frozenset(TestClock.objects.values_list("tenant__slug", flat=True))
        _slugs[0] = time.monotonic() + SLUGS_SECONDS
    return _slugs[1]


test_tenant_slugs.__test__ = False


def forget_test_tenant_slugs() -> None:
    _slugs[0] = 0.0


class TenantClockMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = _TENANT_PATH.match(request.path_info)
        if match is None or match.group(1) not in test_tenant_slugs():
            return self.get_response(request)
        bound = (
            TestClock.objects.filter(tenant__slug=match.group(1))
            .values_list("tenant_id", "frozen_time")
            .first()
        )
        if bound is None:
            return self.get_response(request)
        with clock.tenant_scope(bound[0], at=bound[1]):
            return self.get_response(request)
