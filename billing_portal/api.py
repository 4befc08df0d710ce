"""The operator API (`/api/v1/`): one django-ninja API assembled from each app's router, its OpenAPI 3.1 schema at
`/api/v1/openapi.json` and the interactive docs at `/api/v1/docs` (Swagger UI served from this site's static
files). The plumbing is in billing_portal.common.api; authentication and idempotency keys in accounts."""

from accounts.api_auth import ApiKeyAuth
from accounts.api_views import router as accounts_router
from billing_portal.common.api import OperatorApi
from licenses.api_views import router as licenses_router
from metering.api_views import router as metering_router
from payments.api_views import router as payments_router

DESCRIPTION = """\
The operator's JSON API. Authenticate with `Authorization: Bearer <key>`: a **platform** key acts for every
tenant, a **tenant** key for its own tenant only (403 `forbidden` elsewhere).

Every error is `{"error": {"code": "...", "message": "..."}}` with a stable English `code`: 400 bad input,
401/403, 404 not found or not yours, 405, 409 limit or conflict, 413 body larger than the limit, 422
`idempotency_key_reused`. Writes that are not idempotent by themselves accept an `Idempotency-Key` header
(kept 24 hours). See docs/api.md in the repository.
"""

api = OperatorApi(
    title="billing_portal operator API",
    version="1",
    description=DESCRIPTION,
    auth=ApiKeyAuth(),
    openapi_url="/openapi.json",
    docs_url="/docs",
    urls_namespace="api",
)
api.add_router("", accounts_router)
api.add_router("", licenses_router)
api.add_router("", metering_router)
api.add_router("", payments_router)
