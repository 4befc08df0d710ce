"""`Idempotency-Key` for the operator API's writes that are not idempotent by themselves (meter `add`/`sub`, plan
changes, RP and user registration), as Stripe does.

    @router.put(...)
    @idempotent
    def plan_update(request, ...): ...

With the header, the operation runs in one transaction together with an `ApiIdempotencyKey` row (unique per API
key and key), and its answer is stored in that row:

- a retry with the same key and the same request (method, path, JSON body) replays the stored answer, marked
  `Idempotent-Replayed: true`, and writes nothing — whatever happened to the first answer on its way back;
- the same key with a different request: 422 `idempotency_key_reused`;
- a retry while the first request still runs waits for it (the unique index holds the second insert until the
  first commits) and then replays; after `WAIT_SECONDS` it gets 409 `idempotency_key_in_progress`;
- an answer of 500 or more is not stored: its transaction, writes included, is rolled back, so the retry runs
  afresh and counts once;
- keys expire after `ApiIdempotencyKey.TTL_HOURS` (24 h): the same key then runs as a new request; expired rows
  are purged hourly (accounts.tasks).

Without the header nothing changes. A request that fails authentication is answered without looking at the key.
"""

import hashlib
import re
from datetime import timedelta
from functools import wraps

import orjson
from django.db import IntegrityError, OperationalError, connection, transaction
from django.http import HttpResponse
from ninja.decorators import decorate_view
from ninja.utils import contribute_operation_callback

from billing_portal.common import clock
from billing_portal.common.api import error_response, parse_json
from billing_portal.common.exceptions import ApplicationError

from .api_auth import request_authenticate
from .models import ApiIdempotencyKey

HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"^[!-~][ -~]{0,254}$")  # printable ASCII, 1 to 255 characters
WAIT_SECONDS = 10
REPLAYED_HEADER = "Idempotent-Replayed"

PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": "Makes a retry safe: the same key with the same request replays the first answer (24 h). "
    "Use a new random value (e.g. a UUID) per intended write.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_RE.pattern},
}


def idempotent(view):
    """Accept an `Idempotency-Key` header on this operation (and describe it in the OpenAPI schema)."""
    contribute_operation_callback(view, _declare_header)
    return decorate_view(_with_idempotency)(view)


def _declare_header(operation) -> None:
    extra = dict(operation.openapi_extra or {})
    extra["parameters"] = [*extra.get("parameters", []), PARAMETER]
    operation.openapi_extra = extra


class _Rollback(Exception):
    def __init__(self, response):
        self.response = response


def _request_hash(request, body: bytes) -> str:
    try:
        canonical = orjson.dumps(parse_json(body), option=orjson.OPT_SORT_KEYS)
    except ApplicationError:
        canonical = body
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.get_full_path().encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _replay(row: ApiIdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(row.response_body), status=row.status_code, content_type="application/json")
    response[REPLAYED_HEADER] = "true"
    return response


def _with_idempotency(run):
    @wraps(run)
    def wrapper(request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return run(request, *args, **kwargs)
        try:
            api_key = request_authenticate(request)
            body = request.body
        except Exception:  # noqa: BLE001 - 401/403/404/413: the operation answers them itself, nothing to keep
            return run(request, *args, **kwargs)
        if not KEY_RE.match(key):
            return error_response(
                "bad_idempotency_key", f"{HEADER} must be 1 to 255 printable ASCII characters.", 400
            )
        request_hash = _request_hash(request, body)
        try:
            with transaction.atomic():
                row, answer = _claim(api_key=api_key, key=key, request_hash=request_hash, request=request)
                if answer is not None:
                    return answer
                response = run(request, *args, **kwargs)
                if response.status_code >= 500:
                    raise _Rollback(response)
                row.status_code = response.status_code
                row.response_body = response.content
                row.save(update_fields=["status_code", "response_body"])
                return response
        except _Rollback as rollback:
            return rollback.response

    return wrapper


def _claim(*, api_key, key: str, request_hash: str, request):
    """Insert this request's row, or find the answer already given for the key. Returns (row, None) to go on, or
    (None, response) to answer at once (a replay, 422 reused, 409 in progress)."""
    now = clock.system_now()
    for _attempt in range(2):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{WAIT_SECONDS}s'")
                row = ApiIdempotencyKey.objects.create(
                    api_key=api_key,
                    key=key,
                    request_hash=request_hash,
                    method=request.method,
                    path=request.path[:500],
                    created_at=now,
                )
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
                return row, None
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            return None, _in_progress()  # the first request with this key is still running
        except IntegrityError:
            pass
        existing = ApiIdempotencyKey.objects.filter(api_key=api_key, key=key).first()
        if existing is None:
            continue  # purged meanwhile
        if existing.created_at <= now - timedelta(hours=ApiIdempotencyKey.TTL_HOURS):
            ApiIdempotencyKey.objects.filter(pk=existing.pk).delete()
            continue
        if existing.request_hash != request_hash:
            return None, error_response(
                "idempotency_key_reused",
                f"This {HEADER} was used for a different request in the last {ApiIdempotencyKey.TTL_HOURS} hours; "
                "use a new key for a new request.",
                422,
            )
        if existing.status_code is None:
            return None, _in_progress()
        return None, _replay(existing)
    return None, _in_progress()


def _in_progress() -> HttpResponse:
    response = error_response(
        "idempotency_key_in_progress", f"A request with this {HEADER} is still running; retry shortly.", 409
    )
    response["Retry-After"] = "1"
    return response


def idempotency_keys_purge(*, now=None) -> int:
    """Delete the keys older than TTL_HOURS; returns how many."""
    cutoff = (now or clock.system_now()) - timedelta(hours=ApiIdempotencyKey.TTL_HOURS)
    deleted, _ = ApiIdempotencyKey.objects.filter(created_at__lte=cutoff).delete()
    return deleted
