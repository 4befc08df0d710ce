"""Stripe webhook endpoint (not tenant-scoped): CSRF-exempt, non-atomic; the service verifies and stores."""

from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services
from .stripe_gateway import WebhookSignatureInvalid


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def stripe_webhook(request):
    try:
        event = services.stripe_event_receive(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature")
        )
    except WebhookSignatureInvalid as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=400)
    # A failed event is kept with its traceback; a non-2xx answer makes Stripe retry it later.
    return JsonResponse({"id": event.stripe_event_id, "status": event.status},
                        status=500 if event.status == event.Status.FAILED else 200)
