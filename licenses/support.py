"""Support plans (the second plan category beside the license): selectors and services.

A tenant has at most one support subscription. Buying one invoices the rest of the current calendar month at once
(prorated by the second, like a license purchase); changing it prorates against the support plan billed for the
period (`billed_plan`) and invoices the difference at once (or credits it); cancelling stops renewal at the end of
the period. Its fee is a line of its own ("support" category) on the monthly invoice. A registered payment method
is required first, as for licenses.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError, Conflict

from .models import Plan, PlanChange, ProrationBehavior, SupportSubscription
from .pricing import plan_fixed_amount, proration
from .prorations import check_payment_method, record_proration
from .selectors import period_bounds


def support_plans(*, tenant) -> list[Plan]:
    plans = list(
        Plan.objects.filter(category=Plan.Category.SUPPORT, currency=tenant.currency, is_public=True)
        .prefetch_related("menus__units__tiers")
        .order_by("sort_order", "name")
    )
    for plan in plans:
        plan.fixed_amount = plan_fixed_amount(plan)
    return plans


def support_plan_get(*, tenant, code: str) -> Plan:
    plan = (
        Plan.objects.filter(category=Plan.Category.SUPPORT, code=code, currency=tenant.currency)
        .prefetch_related("menus__units__tiers")
        .first()
    )
    if plan is None:
        raise ApplicationError(
            _("There is no support plan '%(code)s' in %(currency)s.")
            % {"code": code, "currency": tenant.currency},
            code="unknown_plan",
        )
    return plan


def support_get(*, tenant) -> SupportSubscription | None:
    """The tenant's active support subscription, rolled over first when its period has ended; None without one."""
    sub = SupportSubscription.objects.select_related("plan", "billed_plan").filter(tenant=tenant).first()
    if (
        sub is not None
        and sub.status == SupportSubscription.Status.ACTIVE
        and sub.current_period_end <= clock.now()
    ):
        with transaction.atomic():
            sub = support_roll_over(tenant=tenant, at=clock.now())
    if sub is None or sub.status != SupportSubscription.Status.ACTIVE:
        return None
    return sub


def _lock(tenant) -> SupportSubscription | None:
    from accounts.models import Tenant

    Tenant.objects.select_for_update(of=("self",)).filter(pk=tenant.pk).first()
    return (
        SupportSubscription.objects.select_for_update(of=("self",))
        .select_related("plan", "billed_plan")
        .filter(tenant=tenant)
        .first()
    )


def support_preview(*, tenant, plan: Plan, at=None) -> dict:
    """What choosing `plan` now does, before anything changes: kind, prices, period and proration lines."""
    at = at or clock.now()
    sub = support_get(tenant=tenant)
    new_amount = plan_fixed_amount(plan)
    if sub is None:
        kind, current, billed = PlanChange.Kind.PURCHASE, None, None
        start, end = period_bounds(tenant=tenant, at=at)
    else:
        current, billed = sub.plan, sub.billed_plan or sub.plan
        start, end = sub.current_period_start, sub.current_period_end
        current_amount = plan_fixed_amount(current)
        kind = (
            "same"
            if plan.pk == current.pk
            else PlanChange.Kind.UPGRADE
            if new_amount > current_amount
            else PlanChange.Kind.DOWNGRADE
            if new_amount < current_amount
            else PlanChange.Kind.CHANGE
        )
    old_amount = plan_fixed_amount(billed) if billed is not None else 0
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
        "new_amount": new_amount,
        "period_start": start,
        "period_end": end,
        "remaining_seconds": remaining_seconds,
        "period_seconds": period_seconds,
        "unused": lines.unused,
        "remaining": lines.remaining,
        "difference": lines.difference,
        "subscription": sub,
    }


@transaction.atomic
def support_change(*, tenant, plan: Plan, actor=None, source=PlanChange.Source.PORTAL) -> PlanChange:
    """Buy a support plan, or change to another one at once (prorated, the difference invoiced now)."""
    if plan.category != Plan.Category.SUPPORT:
        raise ApplicationError(
            _("%(plan)s is not a support plan.") % {"plan": plan.name}, code="unknown_plan"
        )
    if plan.currency != tenant.currency:
        raise ApplicationError(
            _("%(plan)s is priced in %(plan_currency)s, but %(tenant)s is billed in %(currency)s.")
            % {
                "plan": plan.name,
                "plan_currency": plan.currency,
                "tenant": tenant.name,
                "currency": tenant.currency,
            },
            code="wrong_currency",
        )
    check_payment_method(tenant)
    sub = _lock(tenant)
    now = clock.now()
    if sub is not None:
        sub = support_roll_over(tenant=tenant, at=now, sub=sub)
    active = sub is not None and sub.status == SupportSubscription.Status.ACTIVE
    if active and sub.plan_id == plan.pk:
        raise Conflict(
            _("%(tenant)s already has %(plan)s.") % {"tenant": tenant.name, "plan": plan.name},
            code="same_plan",
        )
    preview = support_preview(tenant=tenant, plan=plan, at=now)
    change = PlanChange.objects.create(
        tenant=tenant,
        from_plan=sub.plan if active else None,
        to_plan=plan,
        kind=preview["kind"],
        effective_at=now,
        proration_behavior=ProrationBehavior.ALWAYS_INVOICE,
        source=source,
        actor=actor,
        currency=plan.currency,
        unused_amount=preview["unused"] if active else 0,
        remaining_amount=preview["remaining"],
        difference_amount=preview["difference"],
        created_at=now,
    )
    if active:
        sub.plan = sub.billed_plan = plan
        sub.auto_renew = True
        sub.save(update_fields=["plan", "billed_plan", "auto_renew", "updated_at"])
    else:
        SupportSubscription.objects.update_or_create(
            tenant=tenant,
            defaults={
                "plan": plan,
                "billed_plan": plan,
                "status": SupportSubscription.Status.ACTIVE,
                "started_at": now,
                "current_period_start": preview["period_start"],
                "current_period_end": preview["period_end"],
                "auto_renew": True,
                "ended_at": None,
            },
        )
    record_proration(
        tenant=tenant,
        change=change,
        preview=preview,
        proration_behavior=ProrationBehavior.ALWAYS_INVOICE,
        now=now,
    )
    audit_record(
        action="support.purchased" if not active else "support.changed",
        tenant=tenant,
        actor=actor,
        data={
            "plan": plan.name,
            "from": change.from_plan.name if change.from_plan else None,
            "difference": change.difference_amount,
            "currency": change.currency,
        },
    )
    return change


@transaction.atomic
def support_cancel(*, tenant, actor=None) -> SupportSubscription:
    """Stop renewing: support runs to the end of its period, then ends. Undoable until then."""
    sub = _lock(tenant)
    if sub is not None:
        sub = support_roll_over(
            tenant=tenant, at=clock.now(), sub=sub
        )  # never cancel a period that has ended
    if sub is None or sub.status != SupportSubscription.Status.ACTIVE:
        raise Conflict(_("There is no support plan to cancel."), code="no_support_plan")
    if sub.auto_renew:
        sub.auto_renew = False
        sub.save(update_fields=["auto_renew", "updated_at"])
        audit_record(
            action="support.cancelled",
            tenant=tenant,
            actor=actor,
            data={"plan": sub.plan.name, "ends_at": sub.current_period_end.isoformat()},
        )
    return sub


@transaction.atomic
def support_resume(*, tenant, actor=None) -> SupportSubscription:
    sub = _lock(tenant)
    if sub is not None:
        sub = support_roll_over(tenant=tenant, at=clock.now(), sub=sub)
    if (
        sub is None
        or sub.status != SupportSubscription.Status.ACTIVE
        or sub.current_period_end <= clock.now()
    ):
        raise Conflict(_("There is no support plan to resume; buy one instead."), code="no_support_plan")
    if not sub.auto_renew:
        sub.auto_renew = True
        sub.save(update_fields=["auto_renew", "updated_at"])
        audit_record(action="support.resumed", tenant=tenant, actor=actor, data={"plan": sub.plan.name})
    return sub


def support_roll_over(*, tenant, at, sub=None) -> SupportSubscription | None:
    """Within the caller's transaction: bring the subscription to the period containing `at` (renew, or end
    when cancelled). Idempotent; the one place its status changes after purchase."""
    if sub is None:
        sub = _lock(tenant)
    if sub is None or sub.status != SupportSubscription.Status.ACTIVE:
        return sub
    changed = False
    while sub.status == SupportSubscription.Status.ACTIVE and sub.current_period_end <= at:
        boundary = sub.current_period_end
        changed = True
        if not sub.auto_renew:
            sub.status, sub.ended_at = SupportSubscription.Status.ENDED, boundary
            audit_record(action="support.ended", tenant=tenant, data={"plan": sub.plan.name})
            break
        sub.current_period_start, sub.current_period_end = period_bounds(tenant=tenant, at=boundary)
        sub.billed_plan = sub.plan  # the new period's fee is on its monthly invoice
    if changed:
        sub.save()
    return sub


def support_billed_for(*, tenant, period_start) -> Plan | None:
    """Within the monthly invoice's transaction: the support plan whose fee the period starting at
    `period_start` bills (after rolling the subscription over to it), or None."""
    # The caller (the monthly invoice) already holds the tenant's row lock: lock only the subscription.
    sub = (
        SupportSubscription.objects.select_for_update(of=("self",))
        .select_related("plan", "billed_plan")
        .filter(tenant=tenant)
        .first()
    )
    sub = support_roll_over(tenant=tenant, at=period_start, sub=sub) if sub is not None else None
    if (
        sub is None
        or sub.status != SupportSubscription.Status.ACTIVE
        or sub.current_period_start != period_start
    ):
        return None
    return sub.plan
