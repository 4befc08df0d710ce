"""Domain events: a service announces what happened, inside the transaction of its change, and the apps that
care subscribe at start-up (their `AppConfig.ready`). A lower layer thus tells a higher one without importing it:
`accounts` announces `tenant.created` and `licenses` gives the new tenant its Free license; every app announces
the events operators can receive as outgoing webhooks and `ops` writes them to its transactional outbox.

Subscribers run synchronously, in subscription order (the order of INSTALLED_APPS), in the caller's transaction:
an exception rolls the change back, as if the subscriber's code were written in the service itself.
"""

from collections.abc import Callable

Subscriber = Callable[..., object]
_subscribers: list[tuple[frozenset[str] | None, Subscriber]] = []


def subscribe(subscriber: Subscriber, *, types: set[str] | None = None) -> None:
    """Call `subscriber(type=…, tenant=…, data=…)` for every published event (or only those of `types`)."""
    entry = (frozenset(types) if types is not None else None, subscriber)
    if entry not in _subscribers:
        _subscribers.append(entry)


def publish(type: str, *, tenant=None, data: dict | None = None) -> None:  # noqa: A002 - Standard Webhooks' name
    """Announce an event to its subscribers (nothing happens when nobody subscribes)."""
    for types, subscriber in list(_subscribers):
        if types is None or type in types:
            subscriber(type=type, tenant=tenant, data=data or {})
