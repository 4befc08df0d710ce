"""The Stripe stand-in for development and tests: PyPI `localstripe`, on loopback only, state in memory.

localstripe's own CLI listens on all interfaces (IPv4 and IPv6) and pickles its state to
/tmp/localstripe.pickle after every write. This wrapper binds the given host (127.0.0.1 by default)
and turns the pickle off, so each run starts empty and nothing leaves the process.
Reset everything with `DELETE /_config/data`; register a webhook target with
`POST /_config/webhooks/<id>` (url, secret).

Where localstripe differs from Stripe in a way the portal's exactly-once charging depends on, this wrapper
makes it behave as Stripe documents (https://docs.stripe.com/api/idempotent_requests):

- `Idempotency-Key` on POST: the first request's status and body are saved once the endpoint has started
  executing (successes and card declines alike) and replayed for 24 hours to a request with the same key
  and the same method, path and parameters (with `Idempotent-Replayed: true`). The same key with other
  parameters answers 400 `idempotency_error`; while the first request is still running, 409
  `idempotency_error`. Requests rejected by validation (400/404) are not saved, as at Stripe. Keys are
  scoped by the secret key that sent them.
- `GET /v1/payment_intents` accepts the `customer` and `created[gte|gt|lte|lt]` filters Stripe documents, so
  a charge whose answer was lost can be found again by the metadata the portal sent.
- Refunds: a refund larger than what is left unrefunded on the charge is refused (400 `amount_too_large`, as
  Stripe does), and each refund sends `charge.refunded` to the registered webhooks.
- Disputes, which localstripe lacks, exist here as a clearly named stand-in: `POST /_standin/disputes` with
  `charge` (or `payment_intent`), `amount`, `reason` opens one and sends `charge.dispute.created`;
  `POST /_standin/disputes/<id>/close` with `status` (won|lost) closes it and sends `charge.dispute.closed`.
  `GET /v1/disputes/<id>` reads one as Stripe's API does. (Real Stripe opens test disputes with test cards.)

    python scripts/localstripe_server.py --host 127.0.0.1 --port 8420
"""

import argparse
import hashlib
import logging
import time
from urllib.parse import parse_qsl

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60

# (secret key, idempotency key) -> {"fingerprint", "status", "body", "content_type", "saved_at"} or "in progress"
_idempotency: dict[tuple[str, str], object] = {}
_IN_PROGRESS = "in progress"


def _in_memory_only() -> None:
    # Replace the disk persistence with no-ops: the store is a plain in-memory dict.
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None


def _idempotency_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"type": "idempotency_error", "message": message}}, status=status)


@web.middleware
async def idempotency_middleware(request, handler):
    if request.method == "DELETE" and request.path == "/_config/data":
        _idempotency.clear()
        return await handler(request)
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    body = await request.read()
    params = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    fingerprint = hashlib.sha256(repr((request.path, params)).encode()).hexdigest()
    scope = (request.headers.get("Authorization", ""), key)
    saved = _idempotency.get(scope)
    if isinstance(saved, dict) and time.time() - saved["saved_at"] > IDEMPOTENCY_TTL_SECONDS:
        saved = None
    if saved == _IN_PROGRESS:
        return _idempotency_error(
            409,
            "There is currently another in-progress request using this Idempotent Key (that probably means "
            "you submitted twice, and the other request is still going through). Please try again later.",
        )
    if saved is not None:
        if saved["fingerprint"] != fingerprint:
            return _idempotency_error(
                400,
                "Keys for idempotent requests can only be used with the same parameters they were first "
                f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
            )
        response = web.Response(
            body=saved["body"], status=saved["status"], content_type=saved["content_type"]
        )
        response.headers["Idempotent-Replayed"] = "true"
        response.headers["Idempotency-Key"] = key
        return response
    _idempotency[scope] = _IN_PROGRESS
    try:
        try:
            response = await handler(request)
        except UserError as exc:
            response = exc.to_response()
    except BaseException:
        _idempotency.pop(scope, None)
        raise
    if response.status in (400, 401, 404):  # rejected before execution: not saved, a retry runs again
        _idempotency.pop(scope, None)
    else:
        _idempotency[scope] = {
            "fingerprint": fingerprint,
            "status": response.status,
            "body": response.body,
            "content_type": response.content_type,
            "saved_at": time.time(),
        }
    response.headers["Idempotency-Key"] = key
    return response


def _payment_intent_list_filters() -> None:
    """`GET /v1/payment_intents?customer=…&created[gte]=…`, newest first, as Stripe lists them."""
    base_list = resources.StripeObject._api_list_all.__func__

    def _api_list_all(cls, url, limit=None, starting_after=None, customer=None, created=None, **kwargs):
        li = base_list(cls, url, limit=limit, starting_after=starting_after, **kwargs)
        bounds = {}
        if created is not None:
            if isinstance(created, dict):
                bounds = {op: int(value) for op, value in created.items() if op in ("gte", "gt", "lte", "lt")}
            else:
                bounds = {"gte": int(created), "lte": int(created)}
        checks = {
            "gte": lambda c, v: c >= v,
            "gt": lambda c, v: c > v,
            "lte": lambda c, v: c <= v,
            "lt": lambda c, v: c < v,
        }
        li._list = [
            pi
            for pi in li._list
            if (customer is None or pi.customer == customer)
            and all(checks[op](pi.created, value) for op, value in bounds.items())
        ]
        li._list.sort(key=lambda pi: pi.created, reverse=True)
        return li

    resources.PaymentIntent._api_list_all = classmethod(_api_list_all)


def _refunds_as_stripe_does() -> None:
    """Stripe refuses a refund beyond the charge's unrefunded amount and tells webhooks about every refund."""
    from localstripe.webhooks import schedule_webhook

    base_init = resources.Refund.__init__

    def __init__(self, charge=None, payment_intent=None, amount=None, metadata=None, **kwargs):
        charge_id = charge
        if charge_id is None and isinstance(payment_intent, str):
            intent = resources.store.get("payment_intent:" + payment_intent)
            charge_id = intent.latest_charge.id if intent is not None and intent.latest_charge else None
        charge_obj = resources.store.get("charge:" + charge_id) if isinstance(charge_id, str) else None
        requested = resources.try_convert_to_int(amount)
        if charge_obj is not None:
            left = charge_obj.amount - charge_obj.amount_refunded
            if (requested if requested is not None else left) > left or left <= 0:
                raise UserError(
                    400,
                    f"Refund amount ({requested}) is greater than unrefunded amount on charge ({left})",
                    contents={"code": "amount_too_large" if left > 0 else "charge_already_refunded"},
                )
        base_init(
            self, charge=charge, payment_intent=payment_intent, amount=amount, metadata=metadata, **kwargs
        )
        if charge_obj is not None:
            schedule_webhook(resources.Event("charge.refunded", charge_obj))

    resources.Refund.__init__ = __init__


class Dispute(resources.StripeObject):
    """Stand-in only: localstripe has no disputes. Shaped like Stripe's Dispute object."""

    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge=None, amount=None, reason="fraudulent"):
        charge_obj = resources.Charge._api_retrieve(charge)
        super().__init__()
        self.charge = charge_obj.id
        self.payment_intent = getattr(charge_obj, "payment_intent", None)
        self.amount = resources.try_convert_to_int(amount) or charge_obj.amount
        self.currency = charge_obj.currency
        self.reason = reason
        self.status = "needs_response"
        self.metadata = {}


async def _standin_dispute_open(request):
    data = await server.get_post_data(request) or {}
    charge = data.get("charge")
    if not charge and data.get("payment_intent"):
        intent = resources.PaymentIntent._api_retrieve(data["payment_intent"])
        charge = intent.latest_charge.id if intent.latest_charge else None
    if not charge:
        raise UserError(400, "Expected charge or payment_intent")
    dispute = Dispute(charge=charge, amount=data.get("amount"), reason=data.get("reason") or "fraudulent")
    from localstripe.webhooks import schedule_webhook

    schedule_webhook(resources.Event("charge.dispute.created", dispute))
    return server.json_response(dispute._export())


async def _standin_dispute_close(request):
    data = await server.get_post_data(request) or {}
    dispute = Dispute._api_retrieve(request.match_info["id"])
    if data.get("status") not in ("won", "lost"):
        raise UserError(400, "status must be won or lost")
    dispute.status = data["status"]
    from localstripe.webhooks import schedule_webhook

    schedule_webhook(resources.Event("charge.dispute.closed", dispute))
    return server.json_response(dispute._export())


def _dispute_routes() -> None:
    server.app.router.add_post("/_standin/disputes", _standin_dispute_open)
    server.app.router.add_post("/_standin/disputes/{id}/close", _standin_dispute_close)
    server.app.router.add_get("/v1/disputes/{id}", server.api_retrieve(Dispute, "/v1/disputes/{id}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args()
    _in_memory_only()
    _payment_intent_list_filters()
    _refunds_as_stripe_does()
    _dispute_routes()
    # Outermost after localstripe's error middleware, so the saved response is the one the client gets.
    server.app.middlewares.insert(1, idempotency_middleware)
    logger = logging.getLogger("aiohttp.access")
    if not args.quiet:
        logger.setLevel(logging.INFO)
        logger.addHandler(logging.StreamHandler())
    web.run_app(server.app, host=args.host, port=args.port, access_log=logger, print=None)


if __name__ == "__main__":
    main()
