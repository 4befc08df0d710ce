"""Queueing Celery work after a commit, without making the change depend on the queue.

Work that must happen (billing a plan change, charging, e-mails about money) is recorded in PostgreSQL in the
same transaction as the change that causes it: the pending proration items, the invoice with its
`next_attempt_at`, the pending payment attempt. The queue message only makes it happen sooner. When the broker
(Redis) cannot be reached, a warning is logged and never raised into the request or the run that made the change:

- `inline=True` (the default): the task runs here, in this process, instead (tasks are idempotent); a failure of
  that run is logged, not raised, since the data is committed and the response must say so;
- `inline=False`: nothing more is done here; the beat sweeper (`payments.tasks.payments_sweep_tick`) finishes the
  recorded work within minutes (used for charging, so a request never talks to Stripe because Redis is down).
"""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue(task, *args, inline: bool = True) -> bool:
    """Send `task(*args)` to the broker now. False (and a warning) when the broker cannot be reached."""
    try:
        task.delay(*args)
        return True
    except (OperationalError, ConnectionError, OSError) as exc:
        logger.warning(
            "Could not queue %s%r (broker unavailable: %s); %s",
            task.name,
            args,
            exc,
            "running it in this process" if inline else "the sweeper will pick the work up",
        )
    if inline:
        try:
            task.apply(args=args, throw=True)
        except Exception:
            logger.exception("Running %s%r in process failed.", task.name, args)
    return False


def enqueue_on_commit(task, *args, inline: bool = True) -> None:
    """Queue `task(*args)` once the current transaction commits (nothing is sent for a rolled-back change)."""
    transaction.on_commit(lambda: enqueue(task, *args, inline=inline))
