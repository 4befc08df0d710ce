"""Celery tasks of the operator's cockpit: thin, take ids, call one service."""

from celery import shared_task


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int) -> str:
    """Queued when an event commits (and by resend): one attempt; a failure is retried by the tick."""
    from .webhook_delivery import deliver

    return deliver(delivery_id=delivery_id)


@shared_task
def webhooks_tick() -> dict:
    """Beat, every minute: deliveries whose retry is due or whose message was lost, attempts of dead workers."""
    from .webhook_delivery import webhooks_sweep

    return webhooks_sweep()
