"""Operator API for licenses and limits. Thin: parse, call one service, answer JSON."""

from accounts.models import ApiKey
from billing_portal.common.api import api_view
from billing_portal.common.exceptions import ApplicationError
from licenses.registrations import end_user_register, relying_party_register

from . import selectors, services
from .models import PlanChange


def _string(data: dict, key: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApplicationError(f"'{key}' must be a non-empty string.", code="bad_request", extra={"field": key})
    return value.strip()


@api_view(["GET"])
def tenant_detail(request, tenant):
    """GET /api/v1/tenants/{tenant}: plan, period, reservation, history."""
    return selectors.license_api_detail(tenant=tenant)


@api_view(["PUT"])
def plan_update(request, tenant):
    """PUT .../plan {"plan", "proration_behavior", "when": "now|next_period"}."""
    data = request.json
    code = _string(data, "plan")
    behavior = data.get("proration_behavior")
    if behavior is not None and not isinstance(behavior, str):
        raise ApplicationError("proration_behavior must be a string.", code="bad_proration_behavior")
    when = data.get("when", "now")
    plan = selectors.plan_get(code=code, currency=tenant.currency)
    result = services.plan_change(
        tenant=tenant, plan=plan, when=when, proration_behavior=behavior, source=PlanChange.Source.API,
        by_operator=request.api_key.scope == ApiKey.Scope.PLATFORM,
    )
    body = {"result": result["result"], **selectors.license_api_detail(tenant=tenant)}
    change = result.get("change")
    if change is not None:
        body["proration"] = {
            "currency": change.currency, "unused_amount": change.unused_amount,
            "remaining_amount": change.remaining_amount, "difference_amount": change.difference_amount,
            "proration_behavior": change.proration_behavior,
        }
    return body


@api_view(["DELETE"])
def plan_reservation_delete(request, tenant):
    """DELETE .../plan/reservation: cancel the reserved change (409 no_reservation when there is none)."""
    services.license_reservation_cancel(tenant=tenant)
    return selectors.license_api_detail(tenant=tenant)


@api_view(["POST"])
def rp_register(request, tenant):
    data = request.json
    rp = relying_party_register(tenant=tenant, rp_id=_string(data, "rp_id"), name=_string(data, "name", required=False))
    return {"rp_id": rp.rp_id, "name": rp.name, "created_at": rp.created_at.isoformat()}, 201


@api_view(["POST"])
def user_register(request, tenant):
    data = request.json
    user = end_user_register(
        tenant=tenant, user_id=_string(data, "user_id"), display_name=_string(data, "display_name", required=False)
    )
    return {"user_id": user.user_id, "display_name": user.display_name, "created_at": user.created_at.isoformat()}, 201
