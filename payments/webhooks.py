"""Stripe webhook endpoint (not tenant-scoped): CSRF-exempt, non-atomic; the service verifies and stores.
Answers 400 for a bad signature or a body that is not a Stripe event, 200 once the event is stored."""

from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.charging import stripe_events
from payments.charging.gateway import WebhookSignatureInvalid


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def stripe_webhook(request):
    try:
        event = stripe_events.stripe_event_receive(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature")
        )
    except WebhookSignatureInvalid as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=400)
    # Stored means received: 200 whatever the outcome. A flagged event (not matching our records) waits for ops;
    # a failed one keeps its traceback and the sweeper (payments_sweep) processes it again.
    return JsonResponse({"id": event.stripe_event_id, "status": event.status})
