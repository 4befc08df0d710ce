from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy

from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.text import lazy_interpolate

from .models import License, Menu, Plan, PlanChange, PlanReservation
from .pricing import plan_fixed_amount, proration


def free_plan_get(*, currency: str) -> Plan:
    return Plan.objects.get(category=Plan.Category.LICENSE, license_type="free", currency=currency)


def license_get(*, tenant) -> License | None:
    """The tenant's license, never stale: a period that has ended is rolled over first (under the tenant's and the
    license's row locks, see `licenses.services.licenses_roll_over`), so pages, the API and limits read the
    period that is running now even before the 15-minute roll-over task has passed."""
    license = License.objects.select_related("plan", "billed_plan").filter(tenant=tenant).first()
    if (
        license is not None
        and license.current_period_end is not None
        and license.current_period_end <= clock.now()
    ):
        from .services import licenses_roll_over

        license = licenses_roll_over(tenant=tenant)
    return license


def _plans_with_units():
    return Plan.objects.prefetch_related(
        Prefetch("menus", queryset=Menu.objects.prefetch_related("units__tiers"))
    )


def plan_get(*, code: str, currency: str) -> Plan:
    """A license plan by its API code in the tenant's currency (400 unknown_plan / wrong_currency)."""
    plans = list(_plans_with_units().filter(code=code, category=Plan.Category.LICENSE))
    if not plans:
        raise ApplicationError(
            _("There is no license plan '%(code)s'.") % {"code": code}, code="unknown_plan"
        )
    for plan in plans:
        if plan.currency == currency:
            return plan
    raise ApplicationError(
        _("Plan '%(code)s' is not offered in %(currency)s; this tenant is billed in %(currency)s.")
        % {"code": code, "currency": currency},
        code="wrong_currency",
    )


def plans_for_selection(*, tenant) -> list[Plan]:
    """Public license plans in the tenant's currency, cheapest first, with their fixed price."""
    plans = list(
        _plans_with_units()
        .filter(category=Plan.Category.LICENSE, currency=tenant.currency, is_public=True)
        .order_by("sort_order", "name")
    )
    for plan in plans:
        plan.fixed_amount = plan_fixed_amount(plan)
    return plans


def period_bounds(*, tenant, at: datetime, interval: str = Plan.Interval.MONTH) -> tuple[datetime, datetime]:
    """The billing period containing `at`: calendar month(s) in the tenant's time zone, [start, end) in UTC."""
    year, month = clock.month_of(at, tenant.time_zone)
    start, end = clock.month_bounds(year, month, tenant.time_zone)
    if interval == Plan.Interval.YEAR:
        end = datetime(year + 1, month, 1, tzinfo=ZoneInfo(tenant.time_zone)).astimezone(ZoneInfo("UTC"))
    return start, end


def pending_reservation_get(*, tenant) -> PlanReservation | None:
    return (
        PlanReservation.objects.select_related("plan")
        .filter(tenant=tenant, status=PlanReservation.Status.PENDING)
        .first()
    )


def plan_history(*, tenant, limit: int | None = 50):
    qs = PlanChange.objects.select_related("from_plan", "to_plan", "actor").filter(tenant=tenant)
    return list(qs[:limit] if limit else qs)


def tenant_usage_counts(*, tenant) -> dict:
    from accounts.models import EndUser, RelyingParty

    return {
        "rps": RelyingParty.objects.filter(tenant=tenant).count(),
        "users": EndUser.objects.filter(tenant=tenant).count(),
    }


REMOVAL_LIST_MAX = 10  # how many registrations a limits message names (the newest first)


def _newest(model, tenant, field, count):
    return list(
        model.objects.filter(tenant=tenant)
        .order_by("-created_at", "-pk")
        .values_list(field, flat=True)[:count]
    )


def limits_violations(*, tenant, plan: Plan) -> list[str]:
    """Why the tenant does not fit `plan`'s limits (empty when it fits), each saying what to remove."""
    from accounts.models import EndUser, RelyingParty

    counts = tenant_usage_counts(tenant=tenant)
    reasons = []
    # Lazy: rendered when shown, in the reader's language (pages, and e-mails sent after the change).
    if plan.max_rps is not None and counts["rps"] > plan.max_rps:
        excess = counts["rps"] - plan.max_rps
        names = _newest(RelyingParty, tenant, "rp_id", min(counts["rps"], REMOVAL_LIST_MAX))
        more = "" if counts["rps"] <= REMOVAL_LIST_MAX else ", …"
        reasons.append(
            lazy_interpolate(
                ngettext_lazy(
                    "%(count)s RPs are registered but %(plan)s allows %(limit)s: remove %(excess)s RP "
                    "(registered: %(names)s)",
                    "%(count)s RPs are registered but %(plan)s allows %(limit)s: remove %(excess)s RPs "
                    "(registered: %(names)s)",
                    "excess",
                ),
                {
                    "count": counts["rps"],
                    "plan": plan.name,
                    "limit": plan.max_rps,
                    "excess": excess,
                    "names": ", ".join(names) + more,
                },
            )
        )
    if plan.max_users is not None and counts["users"] > plan.max_users:
        excess = counts["users"] - plan.max_users
        names = _newest(EndUser, tenant, "user_id", min(excess, REMOVAL_LIST_MAX))
        more = "" if excess <= REMOVAL_LIST_MAX else ", …"
        reasons.append(
            lazy_interpolate(
                ngettext_lazy(
                    "%(count)s users are registered but %(plan)s allows %(limit)s: remove %(excess)s user "
                    "(newest: %(names)s)",
                    "%(count)s users are registered but %(plan)s allows %(limit)s: remove %(excess)s users "
                    "(newest: %(names)s)",
                    "excess",
                ),
                {
                    "count": f"{counts['users']:,}",
                    "plan": plan.name,
                    "limit": f"{plan.max_users:,}",
                    "excess": excess,
                    "names": ", ".join(names) + more,
                },
            )
        )
    return reasons


def pending_target(*, tenant, license: License | None = None):
    """The plan the license becomes at its period end, when that is not a renewal: Free after a cancellation,
    or the reserved plan. (None when the license simply renews.)"""
    license = license or license_get(tenant=tenant)
    if license is None or license.plan.is_free:
        return None, None
    if not license.auto_renew:
        return free_plan_get(currency=tenant.currency), license.current_period_end
    reservation = pending_reservation_get(tenant=tenant)
    if reservation is not None:
        return reservation.plan, reservation.effective_at
    return None, None


def registration_limit(*, tenant, field: str):
    """The limit (`max_rps` / `max_users`) a new registration must respect: the current plan's, or the stricter
    one of the plan the license becomes at its period end (a cancellation or a reserved downgrade), so the
    tenant still fits when the change takes effect. Returns (limit, plan that sets it, when it starts)."""
    license = license_get(tenant=tenant)
    if license is None:
        return None, None, None
    limit, plan, when = getattr(license.plan, field), license.plan, None
    target, effective_at = pending_target(tenant=tenant, license=license)
    target_limit = getattr(target, field) if target is not None else None
    if target_limit is not None and (limit is None or target_limit < limit):
        limit, plan, when = target_limit, target, effective_at
    return limit, plan, when


def plan_change_preview(*, tenant, plan: Plan, at: datetime | None = None) -> dict:
    """What changing to `plan` now would do: kind, prices, period and the proration lines, before any change."""
    at = at or clock.now()
    license = license_get(tenant=tenant)
    current = license.plan
    current_amount = 0 if current.is_free else plan_fixed_amount(current)
    new_amount = plan_fixed_amount(plan)
    if plan.pk == current.pk:
        kind = "same"
    elif current.is_free:
        kind = PlanChange.Kind.PURCHASE
    elif new_amount < current_amount:
        kind = PlanChange.Kind.DOWNGRADE
    elif new_amount > current_amount:
        kind = PlanChange.Kind.UPGRADE
    else:
        kind = PlanChange.Kind.CHANGE
    # The unused part is that of the plan actually billed for this period (normally the current plan; the
    # previous one after an operator's change without proration), so credit never exceeds what was billed.
    billed = None if current.is_free else (license.billed_plan or current)
    old_amount = 0 if billed is None or billed.is_free else plan_fixed_amount(billed)
    if current.is_free or license.current_period_end is None:
        start, end = period_bounds(tenant=tenant, at=at, interval=plan.interval)
    else:
        start, end = license.current_period_start, license.current_period_end
    period_seconds = int((end - start).total_seconds())
    remaining_seconds = max(0, min(period_seconds, int((end - at).total_seconds())))
    lines = proration(
        old_amount=old_amount,
        new_amount=new_amount,
        remaining_seconds=remaining_seconds,
        period_seconds=period_seconds,
    )
    return {
        "kind": kind,
        "current_plan": current,
        "billed_plan": billed,
        "plan": plan,
        "currency": plan.currency,
        "old_amount": old_amount,
        "current_amount": current_amount,
        "new_amount": new_amount,
        "period_start": start,
        "period_end": end,
        "remaining_seconds": remaining_seconds,
        "period_seconds": period_seconds,
        "unused": lines.unused,
        "remaining": lines.remaining,
        "difference": lines.difference,
        "limit_problems": limits_violations(tenant=tenant, plan=plan),
        "reservation_effective_at": None if current.is_free else license.current_period_end,
    }


def license_dashboard(*, tenant) -> dict:
    """Context for the dashboard's license panel: the license, a reserved change, the registration counts (the
    dashboard view adds the month's MAU and the payment account)."""
    return {
        "license": license_get(tenant=tenant),
        "reservation": pending_reservation_get(tenant=tenant),
        "license_usage": tenant_usage_counts(tenant=tenant),
    }


def mau_limit(*, tenant) -> int | None:
    """The MAU limit of the tenant's current plan, None for unlimited."""
    license = license_get(tenant=tenant)
    return license.plan.max_mau if license and license.plan_id else None


def license_api_detail(*, tenant) -> dict:
    """The operator API's view of a tenant's license: plan, period, reservation, history."""
    license = license_get(tenant=tenant)
    reservation = pending_reservation_get(tenant=tenant)

    def iso(value):
        return value.isoformat() if value else None

    return {
        "tenant": tenant.slug,
        "name": tenant.name,
        "currency": tenant.currency,
        "plan": {
            "code": license.plan.code,
            "name": license.plan.name,
            "license_type": license.plan.license_type,
            "max_rps": license.plan.max_rps,
            "max_users": license.plan.max_users,
            "max_mau": license.plan.max_mau,
        },
        "period": {"start": iso(license.current_period_start), "end": iso(license.current_period_end)},
        "auto_renew": license.auto_renew,
        "reservation": None
        if reservation is None
        else {
            "plan": reservation.plan.code,
            "effective_at": iso(reservation.effective_at),
        },
        "history": [
            {
                "from_plan": c.from_plan.code if c.from_plan else None,
                "to_plan": c.to_plan.code,
                "kind": c.kind,
                "category": c.to_plan.category,
                "effective_at": iso(c.effective_at),
                "proration_behavior": c.proration_behavior or None,
                "source": c.source,
                "currency": c.currency,
                "unused_amount": c.unused_amount,
                "remaining_amount": c.remaining_amount,
                "difference_amount": c.difference_amount,
            }
            for c in plan_history(tenant=tenant)
        ],
    }
