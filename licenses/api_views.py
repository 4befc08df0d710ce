"""Operator API for licenses: the tenant's plan, changes and reservations, and registering RPs and end users
(counted against the license's limits). Thin: validate, call one service,
answer JSON (mounted by billing_portal/api.py under /api/v1/)."""

from typing import Annotated, Literal

from ninja import Body, Router, Schema
from ninja.responses import Status
from pydantic import Field

from accounts.api_auth import api_tenant
from accounts.api_idempotency import idempotent
from accounts.models import ApiKey
from billing_portal.common.api import ErrorCode, TenantSlug, error_responses, text

from . import registrations, selectors, services
from .models import PlanChange, ProrationBehavior

router = Router(tags=["licenses"])
TENANT = "/tenants/{slug:tenant}"


class PlanOut(Schema):
    code: str
    name: str
    license_type: str
    max_rps: int | None
    max_users: int | None
    max_mau: int | None


class PeriodOut(Schema):
    start: str | None = Field(description="ISO 8601 (UTC).")
    end: str | None


class ReservationOut(Schema):
    plan: str
    effective_at: str | None


class PlanChangeOut(Schema):
    from_plan: str | None
    to_plan: str
    kind: str
    category: str
    effective_at: str | None
    proration_behavior: str | None
    source: str
    currency: str
    unused_amount: int
    remaining_amount: int
    difference_amount: int


class TenantLicenseOut(Schema):
    tenant: str
    name: str
    currency: str
    plan: PlanOut
    period: PeriodOut
    auto_renew: bool
    reservation: ReservationOut | None
    history: list[PlanChangeOut]


class ProrationOut(Schema):
    currency: str
    unused_amount: int
    remaining_amount: int
    difference_amount: int
    proration_behavior: str


class PlanUpdateOut(TenantLicenseOut):
    result: Literal["purchased", "changed", "reserved"]
    proration: ProrationOut | None = Field(None, description="For `purchased` and `changed`.")


class PlanUpdateIn(Schema):
    plan: text(64, min_length=1, examples=["business"]) = Field(description="The license plan's code.")
    proration_behavior: Annotated[
        Literal[tuple(ProrationBehavior.values)] | None, ErrorCode("bad_proration_behavior")
    ] = Field(None, description="Default `always_invoice`; tenant keys may only use `always_invoice`.")
    when: Annotated[Literal["now", "next_period"], ErrorCode("bad_when")] = "now"


@router.get(TENANT + "/", response={200: TenantLicenseOut, **error_responses(400, 401, 403, 404)})
def tenant_detail(request, tenant: TenantSlug):
    """The tenant's license: plan, period, reservation, plan history."""
    return selectors.license_api_detail(tenant=api_tenant(request))


@router.put(
    TENANT + "/plan",
    response={200: PlanUpdateOut, **error_responses(400, 401, 403, 404, 409, 413, 422)},
    exclude_unset=True,
)
@idempotent
def plan_update(request, tenant: TenantSlug, change: Body[PlanUpdateIn]):
    """Buy (from Free), change now (prorated by the second) or reserve for the next period.

    400 `unknown_plan` / `wrong_currency` / `no_payment_account`; 409 `no_payment_method`, `limit_exceeded`;
    403 `proration_behavior_forbidden` for a tenant key asking for anything but `always_invoice`."""
    tenant = api_tenant(request)
    plan = selectors.plan_get(code=change.plan, currency=tenant.currency)
    result = services.plan_change(
        tenant=tenant,
        plan=plan,
        when=change.when,
        proration_behavior=change.proration_behavior,
        source=PlanChange.Source.API,
        by_operator=request.api_key.scope == ApiKey.Scope.PLATFORM,
    )
    body = {"result": result["result"], **selectors.license_api_detail(tenant=tenant)}
    plan_change = result.get("change")
    if plan_change is not None:
        body["proration"] = {
            "currency": plan_change.currency,
            "unused_amount": plan_change.unused_amount,
            "remaining_amount": plan_change.remaining_amount,
            "difference_amount": plan_change.difference_amount,
            "proration_behavior": plan_change.proration_behavior,
        }
    return body


@router.delete(
    TENANT + "/plan/reservation", response={200: TenantLicenseOut, **error_responses(400, 401, 403, 404, 409)}
)
def plan_reservation_delete(request, tenant: TenantSlug):
    """Cancel the reserved change (409 `no_reservation` when there is none)."""
    tenant = api_tenant(request)
    services.license_reservation_cancel(tenant=tenant)
    return selectors.license_api_detail(tenant=tenant)


# --- RPs and end users (accounts' rows, registered within the license's limits) ---


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
    created = registrations.relying_party_register(tenant=api_tenant(request), rp_id=rp.rp_id, name=rp.name)
    return Status(
        201, {"rp_id": created.rp_id, "name": created.name, "created_at": created.created_at.isoformat()}
    )


@router.post(TENANT + "/users", response={201: EndUserOut, **REGISTER_ERRORS})
@idempotent
def user_register(request, tenant: TenantSlug, user: Body[EndUserIn]):
    """Register an end user; 409 `limit_exceeded` beyond the license, 409 `already_registered`."""
    created = registrations.end_user_register(
        tenant=api_tenant(request), user_id=user.user_id, display_name=user.display_name
    )
    return Status(
        201,
        {
            "user_id": created.user_id,
            "display_name": created.display_name,
            "created_at": created.created_at.isoformat(),
        },
    )
