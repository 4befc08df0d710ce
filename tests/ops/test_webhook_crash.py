"""Kill the delivery worker mid-delivery: the event is delivered later, and no attempt id is sent twice."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from accounts.services import tenant_create
from billing_portal.common import clock
from ops import webhook_delivery
from ops.models import WebhookAttempt, WebhookDelivery
from tests.factories import UserFactory

CHILD = Path(__file__).with_name("webhook_crash_child.py")


def _worker_killed(delivery_id: int, point: str, receiver) -> int:
    env = {
        **os.environ,
        "CRASH_DB_NAME": connection.settings_dict["NAME"],
        "DELIVERY_ID": str(delivery_id),
        "CRASH_POINT": point,
    }
    child = subprocess.Popen(
        [sys.executable, str(CHILD)],
        env=env,
        stdout=subprocess.PIPE,  # noqa: S603
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        if point == "mid_request":
            assert receiver.arrived.wait(30), "the request never reached the receiver"
            child.send_signal(signal.SIGKILL)  # the receiver is still holding the request
        child.wait(60)
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["before_request", "mid_request"])
def test_worker_killed_mid_delivery_the_event_is_delivered_later_once_per_attempt_id(
    point, receiver, endpoint_for
):
    endpoint_for("tenant.created")
    with pytest.MonkeyPatch.context() as patch:  # no worker picks the message up: the victim process will
        patch.setattr("ops.tasks.deliver_webhook.delay", lambda *args: None)
        tenant_create(owner=UserFactory(), name="Omega")
    delivery = WebhookDelivery.objects.get()
    if point == "mid_request":
        receiver.hold = threading.Event()

    assert _worker_killed(delivery.pk, point, receiver) == -signal.SIGKILL
    [attempt] = delivery.attempts.all()
    assert attempt.status == WebhookAttempt.Status.SENDING  # committed before the request, never finished
    receiver.hold and receiver.hold.set()

    # too fresh to be called dead yet: left alone (in flight), not sent again
    assert webhook_delivery.webhooks_sweep() == {"abandoned": 0, "in_flight": 1}
    report = webhook_delivery.webhooks_sweep(at=clock.system_now() + timedelta(minutes=2))
    assert report == {"abandoned": 1, "delivered": 1}
    assert webhook_delivery.webhooks_sweep(at=clock.system_now() + timedelta(minutes=3)) == {"abandoned": 0}

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    statuses = list(delivery.attempts.values_list("status", flat=True))
    assert statuses == [WebhookAttempt.Status.ABANDONED, WebhookAttempt.Status.SUCCEEDED]
    attempt_ids = [r["attempt_id"] for r in receiver.requests]
    assert len(attempt_ids) == len(set(attempt_ids)), "an attempt id was sent twice"
    assert len(receiver.requests) == (2 if point == "mid_request" else 1)
    assert {r["message_id"] for r in receiver.requests} == {delivery.event.message_id}
    assert all(r["verified"] for r in receiver.requests)
    assert receiver.requests[-1]["attempt_id"] == delivery.attempts.get(number=2).attempt_id
