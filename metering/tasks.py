from celery import shared_task


@shared_task(acks_late=True)
def mau_alert_notify_task(alert_id: int) -> None:
    from .services import mau_alert_notify

    mau_alert_notify(alert_id=alert_id)
