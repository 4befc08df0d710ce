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


@shared_task(acks_late=True)
def event_partitions_tick() -> dict:
    """Beat (hourly, PostgreSQL event store): create the raw events' partitions of this month and the next two,
    drop those older than METERING_RAW_EVENTS_RETENTION_MONTHS (metering/partitions.py)."""
    from .partitions import partitions_maintain

    return partitions_maintain()
