"""Stripe webhooks: each event is stored once, then processed by type (writes)."""

import json
import logging
import traceback as traceback_module

from django.db import IntegrityError, transaction

from billing_portal.common import clock
from payments.charging import gateway as stripe_gateway
from payments.charging.attempts import PaymentMismatch, _payment_check_intent, _payment_set
from payments.charging.cards import payment_methods_sync
from payments.models import (
    Payment,
    PaymentAccount,
    PaymentMethod,
    StripeEvent,
)

logger = logging.getLogger(__name__)


def stripe_event_receive(*, payload: bytes, signature_header: str | None) -> StripeEvent:
    """Verify, store once by event id, then process. A replayed event is not processed twice."""
    event = stripe_gateway.webhook_event_construct(payload=payload, signature_header=signature_header)
    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                stripe_event_id=event["id"],
                type=event["type"],
                stripe_created=int(event.get("created") or 0),
                raw_body=payload.decode("utf-8"),
                received_at=clock.now(),
            )
    except IntegrityError:
        stored = StripeEvent.objects.get(stripe_event_id=event["id"])
        if stored.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED):
            return stored
    return stripe_event_process(event=stored)


def stripe_event_process(*, event: StripeEvent) -> StripeEvent:
    """Process (or reprocess) a stored event. Handlers re-read the current state from Stripe, so the order
    events arrive in does not matter and running one twice changes nothing.

    An event that contradicts our records (a PaymentIntent whose amount, currency, customer or metadata is not
    the attempt's) changes nothing and is kept as `flagged` for ops; one whose handler fails is kept as
    `failed` with its traceback, and the sweeper processes it again."""
    data = json.loads(event.raw_body)
    handler = _HANDLERS.get(event.type)
    reason, tb = "", ""
    try:
        if handler is None:
            status = StripeEvent.Status.IGNORED
        else:
            with transaction.atomic():
                handler(data["data"]["object"])
            status = StripeEvent.Status.PROCESSED
    except PaymentMismatch as exc:
        logger.error("Stripe event %s (%s) flagged: %s", event.stripe_event_id, event.type, exc.message)
        status, reason = StripeEvent.Status.FLAGGED, exc.message
    except Exception:  # noqa: BLE001 - any failure is kept with its traceback for reprocessing
        logger.exception("Stripe event %s (%s) failed", event.stripe_event_id, event.type)
        status, tb = StripeEvent.Status.FAILED, traceback_module.format_exc()
    StripeEvent.objects.filter(pk=event.pk).update(
        status=status,
        traceback=tb,
        flag_reason=reason,
        attempts=event.attempts + 1,
        processed_at=clock.now() if status != StripeEvent.Status.FAILED else None,
    )
    event.refresh_from_db()
    return event


def _tenant_for_customer(customer_id):
    account = (
        PaymentAccount.objects.select_related("tenant").filter(stripe_customer_id=customer_id or "").first()
    )
    return account.tenant if account else None


def _on_payment_intent(obj):
    """A PaymentIntent changed at Stripe: apply it to its attempt, and settle the invoice in the same
    transaction, only if it is exactly the attempt we sent (PaymentMismatch otherwise)."""
    from payments.charging.charge import payment_settle_invoice

    intent = stripe_gateway.payment_intent_retrieve(
        payment_intent_id=obj["id"]
    )  # Stripe's state, not the body's
    payment = Payment.objects.filter(stripe_payment_intent_id=intent["id"]).first()
    if payment is None:
        payment_pk = intent["metadata"].get("payment")
        payment = Payment.objects.filter(pk=payment_pk).first() if str(payment_pk or "").isdigit() else None
    if payment is None:
        return  # not a PaymentIntent of the portal's (made in the Stripe dashboard, say)
    # Waits while a charge of this attempt is in flight; then sees what that charge recorded.
    locked = Payment.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=payment.pk)
    _payment_check_intent(locked, intent)
    before = locked.status
    locked = _payment_set(
        locked, status=intent["status"], failure_message=intent["failure_message"], intent_id=intent["id"]
    )
    if locked.invoice_id:
        payment_settle_invoice(payment=locked, previous_status=before)


def _on_setup_intent(obj):
    tenant = _tenant_for_customer(obj.get("customer"))
    if tenant is not None:
        payment_methods_sync(tenant=tenant)


def _on_payment_method(obj):
    tenant = _tenant_for_customer(obj.get("customer"))
    if tenant is None:
        local = (
            PaymentMethod.objects.select_related("tenant").filter(stripe_payment_method_id=obj["id"]).first()
        )
        tenant = local.tenant if local else None
    if tenant is not None:
        payment_methods_sync(tenant=tenant)


def _on_customer_updated(obj):
    account = PaymentAccount.objects.filter(stripe_customer_id=obj["id"]).first()
    if account is None:
        return
    customer = stripe_gateway.customer_retrieve(customer_id=obj["id"])
    PaymentAccount.objects.filter(pk=account.pk).update(
        name=customer["name"] or account.name,
        email=customer["email"] or account.email,
        updated_at=clock.now(),
    )
    payment_methods_sync(tenant=account.tenant, default_id=customer["default_payment_method"])


def _on_charge_refunded(obj):
    from payments.charging.refunds import on_charge_refunded

    on_charge_refunded(obj)


def _on_dispute(obj):
    from payments.charging.disputes import on_dispute

    on_dispute(obj)


_HANDLERS = {
    "charge.refunded": _on_charge_refunded,
    "charge.dispute.created": _on_dispute,
    "charge.dispute.updated": _on_dispute,
    "charge.dispute.closed": _on_dispute,
    "charge.dispute.funds_withdrawn": _on_dispute,
    "charge.dispute.funds_reinstated": _on_dispute,
    "payment_intent.succeeded": _on_payment_intent,
    "payment_intent.payment_failed": _on_payment_intent,
    "setup_intent.succeeded": _on_setup_intent,
    "payment_method.attached": _on_payment_method,
    "payment_method.detached": _on_payment_method,
    "customer.updated": _on_customer_updated,
}
