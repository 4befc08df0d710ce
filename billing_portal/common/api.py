"""The operator API's app-independent plumbing, on django-ninja: JSON in (orjson) and out, the one error shape
`{"error": {"code", "message", ...}}` for every failure, validated parameter types with their error codes, and
`OperatorApi` — the NinjaAPI that turns every exception into that shape.

Authentication (API keys), idempotency keys and the routers belong to the apps (`accounts.api_auth`,
`accounts.api_idempotency`, `<app>/api_views.py`); `billing_portal/api.py` assembles them. This module imports
no app.

    router = Router(tags=["metering"])

    @router.get("/tenants/{slug:tenant}/mau", response={200: MauOut, **error_responses(400, 401, 403, 404)})
    def mau(request, tenant: TenantSlug, month: QueryMonth = None):
        ...                               # raise ApplicationError(message, code=..., status=...) for a JSON error

A field's error code: annotate its type with `ErrorCode("bad_month")` (or use one of the types below); a
validation failure of that field answers 400 with that code, of any other field 400 `bad_request`.
"""

import logging
import re
from dataclasses import dataclass
from datetime import date
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import orjson
from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.http.request import RawPostDataException
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.renderers import BaseRenderer
from pydantic import AfterValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from .exceptions import ApplicationError

logger = logging.getLogger("django.request")

BIGINT_MAX = 2**63 - 1  # PostgreSQL bigint: counts and amounts
# Dates, months and instants the API accepts: 1970-01-01 up to the end of 9998, so that a day or month in any
# time zone, and the one after it, is still a date Python and PostgreSQL can represent.
MIN_YEAR, MAX_YEAR = 1970, 9998
MAX_UNIX_SECONDS = 253_370_764_799  # 9998-12-31T23:59:59Z


def max_body_bytes() -> int:
    return settings.API_MAX_BODY_BYTES


# --- errors ---------------------------------------------------------------------------------------------------


def error_response(code: str, message, status: int, **extra) -> HttpResponse:
    """`message` may be a lazy translation: it is rendered here, in the language active for the request (the
    client's `Accept-Language`; English without one). The `code` stays stable English."""
    return HttpResponse(
        orjson.dumps({"error": {"code": code, "message": str(message), **extra}}, default=_json_default),
        status=status,
        content_type="application/json",
    )


def payload_too_large() -> ApplicationError:
    limit = max_body_bytes()
    return ApplicationError(
        f"The request body is larger than the limit of {limit:,} bytes ({limit / 2**20:g} MiB).",
        code="payload_too_large",
        status=413,
        extra={"limit_bytes": limit},
    )


class EventError(Schema):
    """One bad event of an ingest batch (`invalid_events`)."""

    index: int
    id: Any = Field(None, description="The event's id as sent (any JSON value), or null.")
    field: str | None = Field(
        description="The event's field at fault, or null when the event is not an object."
    )
    message: str


class ErrorDetail(Schema):
    model_config = ConfigDict(extra="allow")

    code: str = Field(
        description="Stable, machine-readable (English), e.g. `bad_month`, `limit_exceeded`.",
        examples=["bad_request"],
    )
    message: str = Field(description="For people.")
    field: str | None = Field(None, description="The request field at fault, when there is one.")
    limit_bytes: int | None = Field(None, description="`payload_too_large`: the body limit in bytes.")
    errors: list[EventError] | None = Field(
        None, description="`invalid_events`: each bad event (first 1,000)."
    )
    error_count: int | None = Field(None, description="`invalid_events`: how many problems in all.")


class ErrorOut(Schema):
    """Every error of the API: `{"error": {"code", "message", ...}}`."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict:
    """`response=` entries for the error statuses an operation can answer (each with the error model)."""
    return {status: ErrorOut for status in statuses}


@dataclass(frozen=True)
class ErrorCode:
    """Annotated metadata: the `code` of a 400 answered when this field does not validate."""

    code: str


def _custom(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message)


# --- validated parameter types --------------------------------------------------------------------------------

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: str) -> tuple[int, int]:
    """'YYYY-MM' → (year, month) within MIN_YEAR..MAX_YEAR, else ApplicationError 400 bad_month."""
    match = MONTH_RE.match(value or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or not MIN_YEAR <= int(match.group(1)) <= MAX_YEAR:
        raise ApplicationError(
            f"Bad month {value!r}: use YYYY-MM, years {MIN_YEAR} to {MAX_YEAR}.", code="bad_month"
        )
    return int(match.group(1)), int(match.group(2))


def parse_date(value: str) -> date:
    """'YYYY-MM-DD' → date within MIN_YEAR..MAX_YEAR, else ApplicationError 400 bad_date."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
            raise ValueError
        day = date.fromisoformat(value)
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValueError
    except ValueError:
        raise ApplicationError(
            f"Bad date {value!r}: use YYYY-MM-DD, years {MIN_YEAR} to {MAX_YEAR}.", code="bad_date"
        ) from None
    return day


def _month(value: str) -> tuple[int, int]:
    try:
        return parse_month(value)
    except ApplicationError as exc:
        raise _custom("bad_month", exc.message) from None


def _date(value: str) -> date:
    try:
        return parse_date(value)
    except ApplicationError as exc:
        raise _custom("bad_date", exc.message) from None


def _unix(value: int) -> int:
    if not 0 <= value <= MAX_UNIX_SECONDS:
        raise _custom("bad_timestamp", f"Bad timestamp {value}: Unix seconds from 0 to {MAX_UNIX_SECONDS}.")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise _custom("bad_request", "NUL characters (\\x00) are not allowed.")
    return value


# The patterns are for the schema's readers; the validators check the same (and the range) and answer with a
# message that says what to send.
YEAR_PATTERN = r"(19[7-9]\d|[2-9]\d{3})"  # 1970-9999 (9999 itself refused: see MAX_YEAR)
# A calendar month 'YYYY-MM' → (year, month).
Month = Annotated[
    str,
    ErrorCode("bad_month"),
    Field(json_schema_extra={"pattern": rf"^{YEAR_PATTERN}-(0[1-9]|1[0-2])$"}, examples=["2026-11"]),
    AfterValidator(_month),
]
# A calendar day 'YYYY-MM-DD' → date.
Day = Annotated[
    str,
    ErrorCode("bad_date"),
    Field(
        json_schema_extra={"pattern": rf"^{YEAR_PATTERN}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"},
        examples=["2026-11-19"],
    ),
    AfterValidator(_date),
]
# Unix seconds (a path segment), 1970 to the end of 9998.
UnixSeconds = Annotated[
    int,
    ErrorCode("bad_timestamp"),
    Field(ge=0, le=MAX_UNIX_SECONDS, examples=[1763600000]),
    AfterValidator(_unix),
]
TenantSlug = Annotated[
    str,
    Field(pattern=r"^[-a-zA-Z0-9_]+$", max_length=64, description="The tenant's slug.", examples=["acme"]),
]
UnitName = Annotated[
    str,
    Field(
        pattern=r"^[-a-zA-Z0-9_]+$",
        max_length=100,
        description="A metering unit's name.",
        examples=["api_calls"],
    ),
]


def text(
    max_length: int, *, min_length: int = 0, code: str | None = None, strip: bool = True, **field
) -> Any:
    """A JSON string field: at most `max_length` characters, no NUL, stripped of surrounding spaces."""
    validators = [AfterValidator(str.strip)] if strip else []
    metadata = [ErrorCode(code)] if code else []
    return Annotated[
        str,
        *metadata,
        Field(min_length=min_length, max_length=max_length, **field),
        *validators,
        AfterValidator(_min_length(min_length)),
        AfterValidator(_no_nul),
    ]


def _min_length(n: int):
    def check(value: str) -> str:
        if len(value) < n:
            raise _custom(
                "string_too_short", f"Must not be empty (at least {n} character{'s' if n > 1 else ''})."
            )
        return value

    return check


# --- JSON in and out ------------------------------------------------------------------------------------------


def _json_default(value):
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def parse_json(body: bytes) -> dict:
    """The request body as a JSON object (orjson: strict UTF-8, no lone surrogates), {} when empty.

    400 `malformed_json` for anything else; 400 `bad_request` for a NUL character in any string (PostgreSQL
    cannot store one); 413 `payload_too_large` above `API_MAX_BODY_BYTES`.
    """
    if not body:
        return {}
    if len(body) > max_body_bytes():
        raise payload_too_large()
    try:
        data = orjson.loads(body)  # C parser: the ingest API's 10,000-event bodies
    except orjson.JSONDecodeError as exc:
        raise ApplicationError(f"The request body is not valid JSON: {exc}", code="malformed_json") from None
    if not isinstance(data, dict):
        raise ApplicationError("The request body must be a JSON object.", code="malformed_json")
    # A NUL can only arrive escaped; look into the strings only when the escape is in the bytes at all.
    if b"\\u0000" in body and _has_nul(data):
        raise ApplicationError("NUL characters (\\u0000) are not allowed in any field.", code="bad_request")
    return data


class JsonParser(Parser):
    def parse_body(self, request) -> dict:
        return parse_json(request.body)


class JsonRenderer(BaseRenderer):
    media_type = "application/json"
    charset = "utf-8"

    def render(self, request, data, *, response_status):
        return orjson.dumps(data, default=_json_default)


# --- the API --------------------------------------------------------------------------------------------------


def _unwrap(annotation):
    """The model class inside Optional[...] / list[...] / Annotated[...], or None."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is not None:
            inner = [a for a in get_args(annotation) if a is not type(None)]
            if not inner:
                return None
            annotation = inner[-1] if origin in (dict,) else inner[0]
        else:
            return annotation if hasattr(annotation, "model_fields") else None


def _marked_code(info) -> str | None:
    """The ErrorCode in a field's metadata or anywhere in its annotation (inside Annotated, Optional, unions)."""
    for item in getattr(info, "metadata", None) or []:
        if isinstance(item, ErrorCode):
            return item.code
    pending = [getattr(info, "annotation", None)]
    while pending:
        annotation = pending.pop(0)
        if get_origin(annotation) is Annotated:
            args = get_args(annotation)
            for item in args[1:]:
                if isinstance(item, ErrorCode):
                    return item.code
            pending.append(args[0])
        elif get_origin(annotation) in (Union, UnionType):
            pending.extend(get_args(annotation))
    return None


def field_error_code(model, loc: tuple) -> str | None:
    """The ErrorCode of the deepest field along `loc` (field names and list indexes) that declares one."""
    code, current = None, model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if isinstance(part, int) or not fields:
            continue
        info = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        if info is None:
            break
        code = _marked_code(info) or code
        current = _unwrap(info.annotation)
        if current is None:
            break
    return code


class ApiValidationError(Exception):
    def __init__(self, code: str, message: str, field: str):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


class OperatorApi(NinjaAPI):
    """A NinjaAPI whose every error (validation, authentication, unknown method, too large, crash) is JSON
    `{"error": {"code", "message"}}`, with orjson in and out."""

    def __init__(self, **kwargs):
        super().__init__(parser=JsonParser(), renderer=JsonRenderer(), **kwargs)
        self.add_exception_handler(ApplicationError, self._application_error)
        self.add_exception_handler(ApiValidationError, self._validation_error)
        self.add_exception_handler(HttpError, self._http_error)
        self.add_exception_handler(SuspiciousOperation, self._bad_request)
        self.add_exception_handler(BadRequest, self._bad_request)
        self.add_exception_handler(Http404, self._not_found)
        self.add_exception_handler(RawPostDataException, self._not_json)
        self.add_exception_handler(ValidationError, self._ninja_validation_error)
        self.add_exception_handler(Exception, self._crash)

    # Every parameter failure becomes one 400 with the code of the first field at fault.
    def validation_error_from_error_contexts(self, error_contexts):
        for context in error_contexts:
            model = context.model
            for error in context.pydantic_validation_error.errors(include_url=False):
                loc = model.__ninja_flatten_map_reverse__.get(error["loc"], error["loc"])
                code = field_error_code(model, tuple(loc))
                names = [str(p) for p in loc if isinstance(p, str)]
                if model.__ninja_param_source__ == "body" and len(names) > 1:
                    names = names[1:]  # the body parameter's own name is not part of the JSON
                if not names:
                    return ApiValidationError(
                        code or "malformed_json", "The request body must be a JSON object.", ""
                    )
                name = ".".join(names)
                index = next((p for p in loc if isinstance(p, int)), None)
                where = f"'{name}'" + (f" (item {index})" if index is not None else "")
                message = error["msg"].removeprefix("Value error, ")
                return ApiValidationError(code or "bad_request", f"{where}: {message}", name)
        return ApiValidationError("bad_request", "Invalid request.", "")

    def _application_error(self, request, exc: ApplicationError):
        return error_response(exc.code, exc.message, exc.status, **exc.extra)

    def _validation_error(self, request, exc: ApiValidationError):
        extra = {"field": exc.field} if exc.field else {}
        return error_response(exc.code, exc.message, 400, **extra)

    def _ninja_validation_error(self, request, exc: ValidationError):
        return error_response("bad_request", "Invalid request.", 400)

    def _http_error(self, request, exc: HttpError):
        cause = exc.__cause__
        if isinstance(cause, ApplicationError):  # the body parser's error, wrapped by ninja
            return self._application_error(request, cause)
        if isinstance(cause, SuspiciousOperation | BadRequest):
            return self._bad_request(request, cause)
        if isinstance(exc, AuthenticationError):
            return error_response("unauthenticated", "Send an API key as 'Authorization: Bearer <key>'.", 401)
        if exc.status_code == 400:
            return error_response("malformed_json", f"The request body is not valid JSON: {exc}", 400)
        return error_response("http_error", str(exc), exc.status_code)

    def _bad_request(self, request, exc):
        if isinstance(exc, RequestDataTooBig):
            return self._application_error(request, payload_too_large())
        return error_response("bad_request", str(exc) or "Bad request.", 400)

    def _not_json(self, request, exc):  # a multipart body, already consumed as a form by Django
        return error_response(
            "malformed_json",
            f"The request body must be JSON (Content-Type: application/json), not {request.content_type}.",
            400,
        )

    def _not_found(self, request, exc):
        return error_response("not_found", "There is no such API resource.", 404)

    def _crash(self, request, exc):
        logger.error(
            "Internal Server Error: %s",
            request.path,
            exc_info=exc,
            extra={"status_code": 500, "request": request},
        )
        return error_response("internal_error", "Something went wrong on our side; it has been logged.", 500)

    @property
    def urls(self):
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            pattern.callback = _json_method_not_allowed(pattern.callback)
        return patterns, app_name, namespace


def _json_method_not_allowed(view):
    from functools import wraps

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = error_response("method_not_allowed", f"Use {allowed}.", 405)
            response["Allow"] = allowed
        return response

    return wrapper


# --- Django's own error pages under /api/ ---------------------------------------------------------------------


def is_api_request(request) -> bool:
    return request.path.startswith("/api/")


def api_bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        error = payload_too_large()
        return error_response(error.code, error.message, error.status, **error.extra)
    return error_response("bad_request", str(exception or "") or "Bad request.", 400)


def api_not_found(request, exception=None):
    return error_response("not_found", f"There is no API resource at {request.path}.", 404)


def api_server_error(request):
    return error_response("internal_error", "Something went wrong on our side; it has been logged.", 500)
