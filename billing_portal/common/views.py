from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from .health import health_report, readiness


@never_cache
def healthz(request):
    """Each dependency (database, Redis, Stripe) and whether it answers; 503 when any of them is down."""
    report, healthy = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


@never_cache
def readyz(request):
    """For load balancers: 200 while this instance can serve requests (database reachable), else 503."""
    report, ready = readiness()
    return JsonResponse(report, status=200 if ready else 503)
