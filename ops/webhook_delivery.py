"""Delivering outgoing webhooks (writes): Standard Webhooks signing, SSRF-safe HTTP, the delivery log,
exponential backoff for three days, the sweeper and "resend".

An attempt is committed (status `sending`, with its own `attempt_id`) before the request leaves, and the
request is sent while that row is locked; the outcome and the delivery's next step are committed together. A
worker killed mid-request leaves the attempt `sending` and unlocked: the sweeper marks it `abandoned` and the
delivery goes on with a new attempt. So every event is delivered at least once (receivers de-duplicate by
`webhook-id`), and no attempt id is ever sent twice.
"""

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.queue import enqueue_on_commit

from .models import WebhookAttempt, WebhookDelivery
from .outbox import new_id

logger = logging.getLogger(__name__)

RETRY_WINDOW = timedelta(days=3)  # retries stop three days after the first attempt (or the resend)
BACKOFF_BASE = timedelta(seconds=30)  # 30 s, 1 min, 2 min, 4 min … doubling,
BACKOFF_MAX = timedelta(hours=12)  # at most 12 h apart
ABANDON_AFTER = timedelta(seconds=60)  # a `sending` attempt nobody holds after this: its worker died
TIMEOUT_SECONDS = 10
EXCERPT_CHARS = 1000
USER_AGENT = "billing-portal-webhooks/1"


class UnsafeEndpoint(ApplicationError):
    pass


# --- signing (https://www.standardwebhooks.com/) ------------------------------------------------------------


def sign(*, secret: str, message_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` keyed with the secret's base64-decoded bytes."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(*, secret: str, message_id: str, attempt_id: str, body: str, timestamp: int) -> dict:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body),
        "webhook-attempt-id": attempt_id,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


# --- SSRF: where we may connect -----------------------------------------------------------------------------


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if getattr(settings, "OUTGOING_WEBHOOKS_ALLOW_PRIVATE", False):
        return not (ip.is_multicast or ip.is_unspecified)
    return ip.is_global and not ip.is_multicast


def resolve_endpoint(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for a URL we may post to, else UnsafeEndpoint.

    Every address the host resolves to must be public (no loopback, link-local, private, shared or reserved
    ranges) unless OUTGOING_WEBHOOKS_ALLOW_PRIVATE; the connection then goes to the address checked, so a DNS
    answer changing between check and connect cannot redirect it."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeEndpoint(
            _("The URL must start with https:// (or http://) and name a host."), code="bad_url"
        )
    if parts.username or parts.password:
        raise UnsafeEndpoint(_("Credentials in the URL are not allowed."), code="bad_url")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeEndpoint(
            _("The host %(host)s does not resolve (%(error)s).") % {"host": parts.hostname, "error": exc},
            code="unresolvable",
        ) from None
    addresses = sorted({info[4][0] for info in infos})
    refused = [a for a in addresses if not _address_allowed(a)]
    if refused or not addresses:
        raise UnsafeEndpoint(
            _(
                "%(host)s resolves to a loopback, link-local or private address (%(addresses)s); webhooks are only "
                "sent to public addresses."
            )
            % {"host": parts.hostname, "addresses": ", ".join(refused)},
            code="private_address",
        )
    return parts.scheme, parts.hostname, port, addresses[0]


def endpoint_validate_url(url: str) -> None:
    resolve_endpoint(url)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def http_post(url: str, body: bytes, headers: dict) -> tuple[int, str]:
    """POST without following redirects; (status, start of the response body)."""
    scheme, host, port, address = resolve_endpoint(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = cls(host, port, address, TIMEOUT_SECONDS)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")[:EXCERPT_CHARS]
        return response.status, excerpt
    finally:
        connection.close()


# --- delivering ---------------------------------------------------------------------------------------------


class Outcome:
    DELIVERED = "delivered"
    RETRY = "retry"
    GAVE_UP = "gave_up"
    IN_FLIGHT = "in_flight"
    NOT_DUE = "not_due"


def backoff(attempt_number: int) -> timedelta:
    """Wait after the n-th failed attempt: 30 s × 2^(n-1), at most 12 h."""
    return min(BACKOFF_BASE * (2 ** (attempt_number - 1)), BACKOFF_MAX)


def _delivery_set(delivery, *, status: str, next_attempt_at=None, delivered_at=None) -> None:
    """The one transition function of a delivery's status (within the caller's transaction)."""
    allowed = {
        WebhookDelivery.Status.PENDING: {
            WebhookDelivery.Status.PENDING,
            WebhookDelivery.Status.SUCCEEDED,
            WebhookDelivery.Status.FAILED,
        },
        WebhookDelivery.Status.SUCCEEDED: {WebhookDelivery.Status.PENDING},  # resend
        WebhookDelivery.Status.FAILED: {WebhookDelivery.Status.PENDING},  # resend
    }
    if status not in allowed[delivery.status]:
        raise ApplicationError(f"A {delivery.status} delivery cannot become {status}.", code="bad_transition")
    delivery.status = status
    delivery.next_attempt_at = next_attempt_at
    if delivered_at is not None:
        delivery.delivered_at = delivered_at
    delivery.save(
        update_fields=["status", "next_attempt_at", "delivered_at", "attempt_count", "window_started_at"]
    )


def _attempt_start(delivery_id: int, *, at) -> WebhookAttempt | str:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return Outcome.IN_FLIGHT
        if (
            delivery.status != WebhookDelivery.Status.PENDING
            or delivery.next_attempt_at is None
            or delivery.next_attempt_at > at
        ):
            return Outcome.NOT_DUE
        if delivery.attempts.filter(status=WebhookAttempt.Status.SENDING).exists():
            return Outcome.IN_FLIGHT
        if not delivery.endpoint.enabled:  # disabled since the event: not sent (ops can resend once enabled)
            _delivery_set(delivery, status=WebhookDelivery.Status.FAILED)
            return Outcome.GAVE_UP
        delivery.attempt_count += 1
        delivery.save(update_fields=["attempt_count"])
        return WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempt_count,
            attempt_id=new_id("att_"),
            started_at=clock.system_now(),
        )


def deliver(*, delivery_id: int, at=None) -> str:
    """One attempt of a due delivery (the task, the tick, the sweeper, resend). Safe to call concurrently."""
    at = at or clock.system_now()
    attempt = _attempt_start(delivery_id, at=at)
    if isinstance(attempt, str):
        return attempt
    with transaction.atomic():
        attempt = (
            WebhookAttempt.objects.select_for_update(skip_locked=True)
            .select_related("delivery__event", "delivery__endpoint")
            .filter(pk=attempt.pk, status=WebhookAttempt.Status.SENDING)
            .first()
        )
        if attempt is None:
            return Outcome.IN_FLIGHT
        delivery, event, endpoint = attempt.delivery, attempt.delivery.event, attempt.delivery.endpoint
        body = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False)
        headers = signed_headers(
            secret=endpoint.secret,
            message_id=event.message_id,
            attempt_id=attempt.attempt_id,
            body=body,
            timestamp=int(clock.system_now().timestamp()),
        )
        started = time.monotonic()
        status_code, excerpt, error = None, "", ""
        try:
            status_code, excerpt = http_post(endpoint.url, body.encode(), headers)
        except UnsafeEndpoint as exc:
            error = exc.message
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempt.latency_ms = int((time.monotonic() - started) * 1000)
        attempt.finished_at = clock.system_now()
        attempt.response_status = status_code
        attempt.response_excerpt = excerpt
        attempt.error = error
        ok = status_code is not None and 200 <= status_code < 300
        attempt.status = WebhookAttempt.Status.SUCCEEDED if ok else WebhookAttempt.Status.FAILED
        attempt.save()
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        return _after_attempt(delivery, ok=ok, number=attempt.number)


def _after_attempt(delivery, *, ok: bool, number: int) -> str:
    now = clock.system_now()
    if delivery.status != WebhookDelivery.Status.PENDING:
        return Outcome.DELIVERED if delivery.status == WebhookDelivery.Status.SUCCEEDED else Outcome.GAVE_UP
    if ok:
        _delivery_set(delivery, status=WebhookDelivery.Status.SUCCEEDED, delivered_at=now)
        return Outcome.DELIVERED
    next_at = now + backoff(number)
    if next_at > delivery.window_started_at + RETRY_WINDOW:
        _delivery_set(delivery, status=WebhookDelivery.Status.FAILED)
        logger.warning("Webhook delivery %s gave up after %s attempts", delivery.pk, number)
        return Outcome.GAVE_UP
    _delivery_set(delivery, status=WebhookDelivery.Status.PENDING, next_attempt_at=next_at)
    return Outcome.RETRY


def attempts_abandon_stale(*, at=None) -> int:
    """Attempts left `sending` by a worker that died (their row lock is gone): `abandoned`, and their delivery
    is due again at once (with a new attempt id)."""
    at = at or clock.system_now()
    count = 0
    stale = WebhookAttempt.objects.filter(
        status=WebhookAttempt.Status.SENDING, started_at__lt=at - ABANDON_AFTER
    )
    for attempt_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            attempt = (
                WebhookAttempt.objects.select_for_update(skip_locked=True)
                .filter(pk=attempt_id, status=WebhookAttempt.Status.SENDING)
                .first()
            )
            if attempt is None:
                continue  # a live worker holds it
            attempt.status = WebhookAttempt.Status.ABANDONED
            attempt.finished_at = clock.system_now()
            attempt.error = "The worker stopped during this attempt; its outcome is unknown. Sent again."
            attempt.save(update_fields=["status", "finished_at", "error"])
            delivery = WebhookDelivery.objects.select_for_update().get(pk=attempt.delivery_id)
            if delivery.status == WebhookDelivery.Status.PENDING:
                _delivery_set(delivery, status=WebhookDelivery.Status.PENDING, next_attempt_at=at)
            count += 1
    return count


def deliveries_due(*, at):
    return (
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=at)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)
    )


def webhooks_sweep(*, at=None, limit: int = 500, budget_seconds: float = 50.0) -> dict:
    """The beat task's work: abandon attempts of dead workers, then attempt the due deliveries (retries, lost
    messages), oldest first, for at most `budget_seconds` (the next tick goes on; concurrent ticks skip each
    other's rows)."""
    at = at or clock.system_now()
    report = {"abandoned": attempts_abandon_stale(at=at)}
    stop = time.monotonic() + budget_seconds
    for delivery_id in list(deliveries_due(at=at)[:limit]):
        if time.monotonic() > stop:
            report["left_for_next_tick"] = report.get("left_for_next_tick", 0) + 1
            continue
        outcome = deliver(delivery_id=delivery_id, at=at)
        report[outcome] = report.get(outcome, 0) + 1
    return report


def delivery_resend(*, delivery) -> WebhookDelivery:
    """Ops' "resend": the delivery is due again now, with a fresh three-day window (the log is kept)."""
    from .tasks import deliver_webhook

    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        delivery.window_started_at = clock.system_now()
        _delivery_set(delivery, status=WebhookDelivery.Status.PENDING, next_attempt_at=clock.system_now())
        enqueue_on_commit(deliver_webhook, delivery.pk, inline=False)  # the tick delivers what the queue lost
    return delivery
