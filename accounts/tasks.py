from celery import shared_task


@shared_task
def idempotency_keys_purge_tick() -> int:
    """Hourly: forget the operator API's idempotency keys older than 24 hours."""
    from .api_idempotency import idempotency_keys_purge

    return idempotency_keys_purge()
