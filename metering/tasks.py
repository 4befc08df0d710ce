from celery import shared_task


@shared_task(acks_late=True)
def mau_alert_notify_task(alert_id: int) -> None:
    from .services import mau_alert_notify

    mau_alert_notify(alert_id=alert_id)


@shared_task(acks_late=True)
def events_ship_tick() -> dict:
    """Beat (ClickHouse event store only): ship the outbox's batches to ClickHouse, at most 50 batches a tick."""
    from .event_outbox import events_ship_all

    return events_ship_all(max_rounds=50)
