"""The portal's only door to Stripe. Nothing else imports `stripe`.

- The API version is pinned (STRIPE_API_VERSION); `api_base` comes from settings.STRIPE_API_BASE when set
  (the local stand-in), otherwise the client talks to real Stripe.
- Every write passes an idempotency key built by the caller from stable ids (e.g. `invoice-12-attempt-1`).
- Amounts are integer minor units. Stripe's "smallest currency unit" is the same thing: yen for JPY
  (a zero-decimal currency), cents for USD, so `amount_minor` is passed through unchanged.
- Stripe errors become ApplicationError subclasses with messages a person can act on; never a 500.
Functions return plain dicts (the parts of Stripe objects the portal uses).
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import stripe
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import CURRENCY_CHOICES

logger = logging.getLogger(__name__)
logging.getLogger("stripe").setLevel(logging.WARNING)  # its INFO lines log every request URL

STRIPE_API_VERSION = "2026-10-28.endive"
SUPPORTED_CURRENCIES = {code for code, _label in CURRENCY_CHOICES}


# --- domain errors ---------------------------------------------------------------------------------------


class PaymentGatewayError(ApplicationError):
    default_code = "payment_gateway_error"
    default_status = 502


class StripeUnavailable(PaymentGatewayError):
    default_code = "stripe_unavailable"
    default_status = 503


class StripeNotConfigured(PaymentGatewayError):
    default_code = "stripe_not_configured"
    default_status = 503


class CardDeclined(ApplicationError):
    default_code = "card_declined"
    default_status = 402


class AuthenticationRequired(ApplicationError):
    default_code = "authentication_required"
    default_status = 402


class StripeObjectMissing(ApplicationError):
    default_code = "stripe_object_missing"
    default_status = 404


class WebhookSignatureInvalid(ApplicationError):
    default_code = "bad_signature"
    default_status = 400


class WebhookBodyInvalid(WebhookSignatureInvalid):
    """Signed, but not a Stripe event (answered 400 like a bad signature, with its own code)."""

    default_code = "bad_body"


def _translate(exc: stripe.StripeError) -> ApplicationError:
    code = getattr(exc, "code", None) or ""
    decline = ""
    error = getattr(exc, "error", None)
    if error is not None:
        decline = getattr(error, "decline_code", None) or ""
    if isinstance(exc, stripe.CardError) or code == "card_declined":
        if code == "authentication_required" or decline == "authentication_required":
            return AuthenticationRequired(
                _(
                    "The card issuer requires the cardholder to authenticate this payment (3-D Secure). "
                    "The payment administrator has to confirm it while signed in."
                )
            )
        # Stripe's own explanation is in English: other languages get the portal's (so do Stripe's generic
        # declines, so that a message stored by a task reads in each reader's language; see `failure_text`).
        english = (translation.get_language() or "en").startswith("en")
        reason = exc.user_message if english else ""
        if not reason or reason == "Your card was declined.":
            return CardDeclined(
                _("Your card was declined. Please use a different card or contact your card issuer.")
            )
        return CardDeclined(
            _("%(reason)s Please use a different card or contact your card issuer.") % {"reason": reason}
        )
    if isinstance(exc, stripe.APIConnectionError):
        return StripeUnavailable(
            _("Stripe could not be reached. Nothing was changed; please try again in a few minutes.")
        )
    if isinstance(exc, stripe.AuthenticationError):
        return StripeNotConfigured(
            _("Stripe rejected the portal's API key. Ask the operator to check STRIPE_SECRET_KEY.")
        )
    if isinstance(exc, stripe.RateLimitError):
        return StripeUnavailable(_("Stripe is busy right now. Please try again in a minute."), status=429)
    if isinstance(exc, stripe.InvalidRequestError) and getattr(exc, "http_status", None) == 404:
        return StripeObjectMissing(_("Stripe does not know this object (it may have been deleted)."))
    if isinstance(exc, stripe.IdempotencyError):
        return PaymentGatewayError(
            _("Stripe refused a repeated request with different details."), code="idempotency_error"
        )
    return PaymentGatewayError(
        _("Stripe could not complete the request: %(reason)s.")
        % {"reason": exc.user_message or _("unexpected error")}
    )


class _Call:
    """Context manager turning stripe errors into domain errors (and logging them without card data)."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None and isinstance(exc, stripe.StripeError):
            logger.warning(
                "Stripe %s failed: %s (%s)", self.what, type(exc).__name__, getattr(exc, "code", "")
            )
            raise _translate(exc) from exc
        return False


# --- client ----------------------------------------------------------------------------------------------


def is_standin() -> bool:
    """True when STRIPE_API_BASE points at the local stand-in (localstripe on loopback)."""
    base = settings.STRIPE_API_BASE
    return bool(base) and urlsplit(base).hostname in {"127.0.0.1", "localhost", "::1"}


def js_url() -> str:
    if settings.STRIPE_API_BASE:
        return settings.STRIPE_API_BASE.rstrip("/") + "/js.stripe.com/v3/"
    return "https://js.stripe.com/v3/"


def publishable_key() -> str:
    return settings.STRIPE_PUBLISHABLE_KEY


def _client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise StripeNotConfigured("Payments are not configured yet (STRIPE_SECRET_KEY is not set).")
    kwargs = {"stripe_version": STRIPE_API_VERSION, "max_network_retries": 1}
    if settings.STRIPE_API_BASE:
        kwargs["base_addresses"] = {"api": settings.STRIPE_API_BASE.rstrip("/")}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, **kwargs)


def _plain(obj) -> dict:
    """stripe-python objects are not dicts (v15+): convert to plain, nested dicts."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _opts(idempotency_key: str | None) -> dict:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


# --- customers -------------------------------------------------------------------------------------------


def _customer(obj) -> dict:
    obj = _plain(obj)
    settings_ = obj.get("invoice_settings") or {}
    return {
        "id": obj["id"],
        "name": obj.get("name") or "",
        "email": obj.get("email") or "",
        "deleted": bool(obj.get("deleted")),
        "default_payment_method": settings_.get("default_payment_method"),
    }


def customer_create(*, name: str, email: str, tenant_slug: str, idempotency_key: str) -> dict:
    with _Call("customer create"):
        obj = _client().v1.customers.create(
            params={"name": name, "email": email, "metadata": {"tenant": tenant_slug}},
            options=_opts(idempotency_key),
        )
    return _customer(obj)


def customer_retrieve(*, customer_id: str) -> dict:
    with _Call("customer retrieve"):
        obj = _client().v1.customers.retrieve(customer_id)
    return _customer(obj)


def customer_delete(*, customer_id: str) -> None:
    """Delete the customer at Stripe (unsubscribe). Already gone counts as done."""
    try:
        with _Call("customer delete"):
            _client().v1.customers.delete(customer_id)
    except StripeObjectMissing:
        return


def customer_update(
    *,
    customer_id: str,
    idempotency_key: str,
    name=None,
    email=None,
    default_payment_method: str | None = None,
    clear_default_payment_method=False,
) -> dict:
    params: dict = {}
    if name is not None:
        params["name"] = name
    if email is not None:
        params["email"] = email
    if default_payment_method:
        params["invoice_settings"] = {"default_payment_method": default_payment_method}
    elif clear_default_payment_method:
        params["invoice_settings"] = {"default_payment_method": ""}
    with _Call("customer update"):
        obj = _client().v1.customers.update(customer_id, params=params, options=_opts(idempotency_key))
    return _customer(obj)


# --- payment methods and setup intents --------------------------------------------------------------------


def _payment_method(obj) -> dict:
    obj = _plain(obj)
    card = obj.get("card") or {}
    return {
        "id": obj["id"],
        "customer": obj.get("customer"),
        "type": obj.get("type"),
        "brand": card.get("brand") or "",
        "last4": card.get("last4") or "",
        "exp_month": int(card.get("exp_month") or 0),
        "exp_year": int(card.get("exp_year") or 0),
    }


def setup_intent_create(*, customer_id: str, idempotency_key: str) -> dict:
    with _Call("setup intent create"):
        obj = _client().v1.setup_intents.create(
            params={"customer": customer_id, "usage": "off_session", "payment_method_types": ["card"]},
            options=_opts(idempotency_key),
        )
    obj = _plain(obj)
    return {"id": obj["id"], "client_secret": obj["client_secret"], "status": obj["status"]}


def setup_intent_retrieve(*, setup_intent_id: str) -> dict:
    with _Call("setup intent retrieve"):
        obj = _plain(_client().v1.setup_intents.retrieve(setup_intent_id))
    return {
        "id": obj["id"],
        "status": obj["status"],
        "customer": obj.get("customer"),
        "payment_method": obj.get("payment_method"),
    }


def payment_method_retrieve(*, payment_method_id: str) -> dict:
    with _Call("payment method retrieve"):
        obj = _client().v1.payment_methods.retrieve(payment_method_id)
    return _payment_method(obj)


def payment_method_attach(*, payment_method_id: str, customer_id: str, idempotency_key: str) -> dict:
    with _Call("payment method attach"):
        obj = _client().v1.payment_methods.attach(
            payment_method_id, params={"customer": customer_id}, options=_opts(idempotency_key)
        )
    return _payment_method(obj)


def payment_method_detach(*, payment_method_id: str, idempotency_key: str) -> dict:
    with _Call("payment method detach"):
        obj = _client().v1.payment_methods.detach(payment_method_id, options=_opts(idempotency_key))
    return _payment_method(obj)


def payment_methods_list(*, customer_id: str) -> list[dict]:
    with _Call("payment method list"):
        page = _client().v1.payment_methods.list(
            params={"customer": customer_id, "type": "card", "limit": 100}
        )
    return [_payment_method(obj) for obj in page.data]


# --- payments --------------------------------------------------------------------------------------------

_PI_STATUS = {
    "succeeded": "successful",
    "processing": "pending",
    "requires_action": "requires_action",
    "requires_confirmation": "pending",
    "requires_capture": "pending",
    "requires_payment_method": "failed",
    "canceled": "failed",
}


def _payment_intent(obj) -> dict:
    obj = _plain(obj)
    error = obj.get("last_payment_error") or {}
    return {
        "id": obj["id"],
        "status": _PI_STATUS.get(obj["status"], "pending"),
        "stripe_status": obj["status"],
        "amount": obj.get("amount"),
        "currency": (obj.get("currency") or "").upper(),
        "customer": obj.get("customer"),
        "failure_message": error.get("message") or "",
        "metadata": dict(obj.get("metadata") or {}),
    }


def charge_off_session(
    *,
    customer_id: str,
    payment_method_id: str,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    metadata: dict | None = None,
) -> dict:
    """Charge a saved card without the customer present. Returns the PaymentIntent summary.

    A decline or a required authentication raises CardDeclined / AuthenticationRequired; the PaymentIntent id
    is then in `exc.extra["payment_intent"]` when Stripe created one.
    """
    currency = currency.upper()
    if currency not in SUPPORTED_CURRENCIES:
        raise ApplicationError(
            _("Currency %(currency)s is not supported.") % {"currency": currency}, code="bad_currency"
        )
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ApplicationError(
            _("A payment must be a positive whole amount in minor units."), code="bad_amount"
        )
    try:
        obj = _client().v1.payment_intents.create(
            params={
                "amount": amount_minor,  # minor units == Stripe's smallest unit (JPY is zero-decimal)
                "currency": currency.lower(),
                "customer": customer_id,
                "payment_method": payment_method_id,
                "payment_method_types": ["card"],
                "off_session": True,
                "confirm": True,
                "metadata": metadata or {},
            },
            options=_opts(idempotency_key),
        )
    except stripe.StripeError as exc:
        error = _translate(exc)
        pi = getattr(getattr(exc, "error", None), "payment_intent", None)
        if pi is not None:
            error.extra["payment_intent"] = _plain(pi).get("id")
        logger.warning(
            "Stripe off-session charge failed: %s (%s)", type(exc).__name__, getattr(exc, "code", "")
        )
        raise error from exc
    return _payment_intent(obj)


def payment_intent_find(*, customer_id: str, metadata: dict, created_since: int) -> dict | None:
    """The PaymentIntent of this customer, created since `created_since` (unix), whose metadata contains
    `metadata`: how a charge whose answer was lost (process killed, network cut) is found again. The list
    endpoint is read directly (search can lag behind by a minute), newest first."""
    params = {"customer": customer_id, "created": {"gte": created_since}, "limit": 100}
    with _Call("payment intent list"):
        page = _client().v1.payment_intents.list(params=params)
    for obj in page.auto_paging_iter():
        found = _plain(obj)
        found_metadata = found.get("metadata") or {}
        if all(found_metadata.get(key) == value for key, value in metadata.items()):
            return _payment_intent(found)
    return None


def payment_intent_retrieve(*, payment_intent_id: str) -> dict:
    with _Call("payment intent retrieve"):
        obj = _client().v1.payment_intents.retrieve(payment_intent_id)
    return _payment_intent(obj)


def payment_intent_client_secret(*, payment_intent_id: str) -> str:
    """For the customer to finish an authentication-required payment in the browser (Stripe.js)."""
    with _Call("payment intent retrieve"):
        obj = _client().v1.payment_intents.retrieve(payment_intent_id)
    return _plain(obj)["client_secret"]


# --- refunds and disputes --------------------------------------------------------------------------------


class RefundRefused(ApplicationError):
    """Stripe refused the refund itself (more than is left on the charge, a failed charge): nothing moved."""

    default_code = "refund_refused"
    default_status = 409


def _refund(obj) -> dict:
    obj = _plain(obj)
    return {
        "id": obj["id"],
        "status": obj.get("status") or "pending",
        "amount": obj.get("amount"),
        "currency": (obj.get("currency") or "").upper(),
        "metadata": dict(obj.get("metadata") or {}),
    }


def refund_create(*, payment_intent_id: str, amount_minor: int, idempotency_key: str, metadata: dict) -> dict:
    """Refund part or all of a PaymentIntent's charge (minor units, tax included). The same key never refunds
    twice (Stripe replays the first answer)."""
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ApplicationError(
            _("A refund must be a positive whole amount in minor units."), code="bad_amount"
        )
    try:
        obj = _client().v1.refunds.create(
            params={"payment_intent": payment_intent_id, "amount": amount_minor, "metadata": metadata},
            options=_opts(idempotency_key),
        )
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "http_status", None) == 400 and not isinstance(exc, stripe.IdempotencyError):
            logger.warning("Stripe refused a refund: %s", getattr(exc, "code", ""))
            raise RefundRefused(
                _("Stripe refused the refund: %(reason)s")
                % {"reason": exc.user_message or _("invalid request")}
            ) from exc
        raise _translate(exc) from exc
    except stripe.StripeError as exc:
        raise _translate(exc) from exc
    return _refund(obj)


def refunds_list(*, payment_intent_id: str) -> list[dict]:
    with _Call("refund list"):
        page = _client().v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100})
    return [_refund(obj) for obj in page.auto_paging_iter()]


def dispute_retrieve(*, dispute_id: str) -> dict:
    with _Call("dispute retrieve"):
        obj = _plain(_client().v1.disputes.retrieve(dispute_id))
    return {
        "id": obj["id"],
        "charge": obj.get("charge"),
        "payment_intent": obj.get("payment_intent"),
        "amount": obj.get("amount"),
        "currency": (obj.get("currency") or "").upper(),
        "reason": obj.get("reason") or "",
        "status": obj.get("status") or "",
    }


# --- customer portal -------------------------------------------------------------------------------------


def billing_portal_url(*, customer_id: str, tenant_slug: str, return_url: str) -> str:
    """A Stripe customer-portal session URL, or — against the stand-in, which lacks portal sessions —
    the portal's own clearly named stand-in page."""
    if is_standin():
        return reverse("stripe_portal_standin", kwargs={"tenant_slug": tenant_slug})
    with _Call("billing portal session"):
        session = _client().v1.billing_portal.sessions.create(
            params={"customer": customer_id, "return_url": return_url}
        )
    return session["url"]


# --- webhooks --------------------------------------------------------------------------------------------


def webhook_event_construct(*, payload: bytes, signature_header: str | None) -> dict:
    """Verify the Stripe-Signature header on the raw body (5-minute tolerance), then parse the event.

    Anything that is not a Stripe event object (`id` and `type` strings, `data.object` an object) is refused as
    an invalid body (400), whatever JSON it is: an array, a string, an event without its object."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookSignatureInvalid("STRIPE_WEBHOOK_SECRET is not set; webhooks cannot be verified.")
    if not signature_header:
        raise WebhookSignatureInvalid("Missing Stripe-Signature header.")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookBodyInvalid("The webhook body is not UTF-8.") from None
    try:
        stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance=300)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureInvalid(
            f"Bad Stripe signature: {exc.user_message or 'verification failed'}"
        ) from None
    try:
        data = json.loads(text)
    except ValueError:
        raise WebhookBodyInvalid("The webhook body is not valid JSON.") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("id"), str)
        or not data["id"]
        or not isinstance(data.get("type"), str)
        or not data["type"]
        or not isinstance(data.get("data"), dict)
        or not isinstance(data["data"].get("object"), dict)
    ):
        raise WebhookBodyInvalid("The webhook body is not a Stripe event object.")
    return data
