"""Queueing Celery tasks after commit without letting a broker (Redis) outage turn the request into a 500.

`enqueue_on_commit(task, *args)`: after the transaction commits, queue the task; when the broker cannot be
reached, log a warning and run the task here, in the request, instead (tasks are idempotent, so a later retry
or a duplicate does no harm). A failure of that inline run is logged, never raised: the data is committed and
the response must say so.
"""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def _run(task, args):
    try:
        task.delay(*args)
        return
    except (OperationalError, ConnectionError, OSError) as exc:
        logger.warning("Could not queue %s%r (broker unavailable: %s); running it in this process.",
                       task.name, tuple(args), exc)
    try:
        task.apply(args=args, throw=True)
    except Exception:
        logger.exception("Running %s%r in process failed.", task.name, tuple(args))


def enqueue_on_commit(task, *args) -> None:
    transaction.on_commit(lambda: _run(task, args))
