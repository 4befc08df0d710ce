"""Operator API of accounts: which key is calling, and the tenant's registered RPs and end users (counted
against the license's limits). Mounted by billing_portal/api.py under /api/v1/."""

from ninja import Body, Router, Schema
from ninja.responses import Status
from pydantic import Field

from billing_portal.common.api import TenantSlug, error_responses, text

from . import services
from .api_auth import api_tenant
from .api_idempotency import idempotent

router = Router(tags=["accounts"])
TENANT = "/tenants/{slug:tenant}"


class WhoamiOut(Schema):
    name: str
    scope: str = Field(description="`platform` (every tenant) or `tenant`.")
    tenant: str | None = Field(description="The tenant of a tenant key.")


@router.get("/whoami", response={200: WhoamiOut, **error_responses(401)})
def whoami(request):
    """Which key is this? Lets the operator check a key without touching a tenant."""
    key = request.api_key
    return {"name": key.name, "scope": key.scope, "tenant": key.tenant.slug if key.tenant else None}


class RelyingPartyIn(Schema):
    rp_id: text(255, min_length=1, examples=["login.example.com"])
    name: text(200) = ""


class RelyingPartyOut(Schema):
    rp_id: str
    name: str
    created_at: str


class EndUserIn(Schema):
    user_id: text(255, min_length=1, examples=["user-0001"])
    display_name: text(200) = ""


class EndUserOut(Schema):
    user_id: str
    display_name: str
    created_at: str


REGISTER_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422)


@router.post(TENANT + "/rps", response={201: RelyingPartyOut, **REGISTER_ERRORS})
@idempotent
def rp_register(request, tenant: TenantSlug, rp: Body[RelyingPartyIn]):
    """Register an RP; 409 `limit_exceeded` beyond the license, 409 `already_registered`."""
    created = services.relying_party_register(tenant=api_tenant(request), rp_id=rp.rp_id, name=rp.name)
    return Status(201, {"rp_id": created.rp_id, "name": created.name, "created_at": created.created_at.isoformat()})


@router.post(TENANT + "/users", response={201: EndUserOut, **REGISTER_ERRORS})
@idempotent
def user_register(request, tenant: TenantSlug, user: Body[EndUserIn]):
    """Register an end user; 409 `limit_exceeded` beyond the license, 409 `already_registered`."""
    created = services.end_user_register(tenant=api_tenant(request), user_id=user.user_id,
                                         display_name=user.display_name)
    return Status(201, {"user_id": created.user_id, "display_name": created.display_name,
                        "created_at": created.created_at.isoformat()})
