"""Queueing Celery work after a commit, without making the change depend on the queue.

Work that must happen (billing a plan change, charging, e-mails about money) is recorded in PostgreSQL in the
same transaction as the change that causes it: the pending proration items, the invoice with its
`next_attempt_at`, the pending payment attempt. The queue message only makes it happen sooner; when it is
lost (Redis down, a worker killed) the beat sweeper (`payments.tasks.payments_sweep_tick`) finishes the work.
So a broker outage is logged here, never raised into the request or the run that made the change.
"""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue(task, *args) -> bool:
    """Send `task(*args)` to the broker now. False (and a warning) when the broker cannot be reached."""
    try:
        task.delay(*args)
    except OperationalError as exc:
        logger.warning("Could not queue %s%r (%s); the sweeper will pick the work up", task.name, args, exc)
        return False
    return True


def enqueue_on_commit(task, *args) -> None:
    """Queue `task(*args)` once the current transaction commits (nothing is sent for a rolled-back change)."""
    transaction.on_commit(lambda: enqueue(task, *args))
