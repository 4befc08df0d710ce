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
            409, "There is currently another in-progress request using this Idempotent Key (that probably means "
                 "you submitted twice, and the other request is still going through). Please try again later."
        )
    if saved is not None:
        if saved["fingerprint"] != fingerprint:
            return _idempotency_error(
                400, "Keys for idempotent requests can only be used with the same parameters they were first "
                     f"used with. Try using a key other than '{key}' if you meant to execute a different request."
            )
        response = web.Response(body=saved["body"], status=saved["status"], content_type=saved["content_type"])
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
            "fingerprint": fingerprint, "status": response.status, "body": response.body,
            "content_type": response.content_type, "saved_at": time.time(),
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
        checks = {"gte": lambda c, v: c >= v, "gt": lambda c, v: c > v, "lte": lambda c, v: c <= v,
                  "lt": lambda c, v: c < v}
        li._list = [
            pi for pi in li._list
            if (customer is None or pi.customer == customer)
            and all(checks[op](pi.created, value) for op, value in bounds.items())
        ]
        li._list.sort(key=lambda pi: pi.created, reverse=True)
        return li

    resources.PaymentIntent._api_list_all = classmethod(_api_list_all)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args()
    _in_memory_only()
    _payment_intent_list_filters()
    # Outermost after localstripe's error middleware, so the saved response is the one the client gets.
    server.app.middlewares.insert(1, idempotency_middleware)
    logger = logging.getLogger("aiohttp.access")
    if not args.quiet:
        logger.setLevel(logging.INFO)
        logger.addHandler(logging.StreamHandler())
    web.run_app(server.app, host=args.host, port=args.port, access_log=logger, print=None)


if __name__ == "__main__":
    main()
