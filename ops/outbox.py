"""The transactional outbox of outgoing webhooks (writes).

`webhook_emit` is called by a service inside the transaction of its change: it writes the event and one
delivery per subscribed endpoint there, so a rolled-back change sends nothing and a committed one is delivered
even if the queue message is lost or every worker dies (the beat task `ops.tasks.webhooks_tick` delivers what
is due). Queueing never raises into the change (`billing_portal.common.queue`).
"""

import secrets
import time
from collections import defaultdict

from django.db import transaction

from billing_portal.common import clock
from billing_portal.common.queue import enqueue_on_commit
from billing_portal.common.text import plain

from .models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


ENDPOINTS_SECONDS = 2.0
_endpoints: list = [0.0, {}]  # [valid until (monotonic), {event type: [endpoint ids]}]


def subscribed_endpoint_ids(type: str) -> list[int]:  # noqa: A002
    """Enabled endpoints subscribed to `type`, as this process last read them (at most ENDPOINTS_SECONDS ago), so
    that when nobody subscribes, the billing run's thousands of events cost no query: an endpoint saved in another
    process receives events from at most that long after; in this process at once (`forget_endpoints` on save).
    `webhook_emit` reads the current list before writing."""
    if time.monotonic() >= _endpoints[0]:
        mapping = defaultdict(list)
        for pk, events in WebhookEndpoint.objects.filter(enabled=True).values_list("pk", "events"):
            for event_type in events:
                mapping[event_type].append(pk)
        _endpoints[1] = dict(mapping)
        _endpoints[0] = time.monotonic() + ENDPOINTS_SECONDS
    return _endpoints[1].get(type, [])


def forget_endpoints(**kwargs) -> None:
    _endpoints[0] = 0.0


def webhook_emit(*, type: str, tenant=None, data: dict) -> WebhookEvent | None:  # noqa: A002 - Standard Webhooks' name
    """Record the event for every enabled endpoint subscribed to `type` (nothing when none is), within the
    caller's transaction; delivery starts once it commits."""
    if type not in EventType.values:
        raise ValueError(f"Unknown webhook event type {type!r}")
    if not subscribed_endpoint_ids(type):
        return None
    # The current list (endpoints are disabled, never deleted, so the rows written below always reference one).
    endpoint_ids = list(
        WebhookEndpoint.objects.filter(enabled=True, events__contains=[type]).values_list("pk", flat=True)
    )
    if not endpoint_ids:
        return None
    happened_at = clock.now()  # the tenant's time (its test clock, if any)
    if tenant is not None:
        test = clock.scoped_tenant_id() == tenant.pk or clock.test_clock_time(tenant.pk) is not None
        data = {"tenant": {"id": tenant.pk, "slug": tenant.slug, "test": test}, **data}
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            message_id=new_id("msg_"),
            type=type,
            tenant=tenant,
            created_at=clock.system_now(),
            payload={
                "type": type,
                "timestamp": happened_at.isoformat().replace("+00:00", "Z"),
                "data": plain(data),
            },
        )
        now = clock.system_now()
        deliveries = WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                event=event,
                endpoint_id=endpoint_id,
                next_attempt_at=now,
                window_started_at=now,
                created_at=now,
            )
            for endpoint_id in endpoint_ids
        )
    from .tasks import deliver_webhook

    for delivery in deliveries:
        enqueue_on_commit(deliver_webhook, delivery.pk, inline=False)  # the tick delivers what the queue lost
    return event
