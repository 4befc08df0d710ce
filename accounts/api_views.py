"""Operator API of accounts: which key is calling (the tenant's RPs and end users, counted against the license's
limits, are registered through licenses/api_views.py). Mounted by billing_portal/api.py under /api/v1/."""

from ninja import Router, Schema
from pydantic import Field

from billing_portal.common.api import error_responses

router = Router(tags=["accounts"])


class WhoamiOut(Schema):
    name: str
    scope: str = Field(description="`platform` (every tenant) or `tenant`.")
    tenant: str | None = Field(description="The tenant of a tenant key.")


@router.get("/whoami", response={200: WhoamiOut, **error_responses(401)})
def whoami(request):
    """Which key is this? Lets the operator check a key without touching a tenant."""
    key = request.api_key
    return {"name": key.name, "scope": key.scope, "tenant": key.tenant.slug if key.tenant else None}
