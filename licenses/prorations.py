"""What a plan change (license or support) does beyond the plan itself: it needs a payment method, and its
proration becomes invoice items or tenant credit. Shared by licenses.services and licenses.support."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from billing_portal.common import providers
from billing_portal.common.exceptions import ApplicationError

from .models import PlanChange, ProrationBehavior, ProrationItem


def check_payment_method(tenant) -> None:
    """Buying or setting a paid plan needs a registered payment method (the operator's help page says so);
    `payments` answers whether the tenant has one (billing_portal.common.providers)."""
    problem = providers.get("payment_method_problem")(tenant=tenant)
    if problem:
        code, message, status = problem
        raise ApplicationError(message, code=code, status=status)


def _period_label(start, end, tenant) -> str:
    """The days a proration line covers, the last one included (a period ending at midnight ends the day before)."""
    tz = ZoneInfo(tenant.time_zone)
    start, end = start.astimezone(tz), end.astimezone(tz)
    last_day = (end - timedelta(microseconds=1)).date() if end > start else end.date()
    return f"{start:%Y-%m-%d} – {last_day:%Y-%m-%d}"


def record_proration(*, tenant, change: PlanChange, preview: dict, proration_behavior: str, now) -> None:
    """Turn the change's proration into pending items (to be invoiced) or, when negative, tenant credit."""
    if proration_behavior == ProrationBehavior.NONE or change.difference_amount == 0:
        return
    if change.difference_amount < 0:
        providers.get("proration_credit_grant")(tenant=tenant, change=change)  # payments: tenant credit
        return
    billing = (
        ProrationItem.Billing.IMMEDIATE
        if proration_behavior == ProrationBehavior.ALWAYS_INVOICE
        else ProrationItem.Billing.NEXT_INVOICE
    )
    period = _period_label(preview["period_start"], preview["period_end"], tenant)
    lines = []
    if change.kind != PlanChange.Kind.PURCHASE and change.unused_amount:
        lines.append((f"Unused time on {preview['billed_plan'].name} ({period})", change.unused_amount))
    lines.append((f"Remaining time on {change.to_plan.name} ({period})", change.remaining_amount))
    ProrationItem.objects.bulk_create(
        ProrationItem(
            tenant=tenant,
            plan_change=change,
            description=description,
            amount_minor=amount,
            currency=change.currency,
            billing=billing,
            created_at=now,
        )
        for description, amount in lines
    )
    if billing == ProrationItem.Billing.IMMEDIATE:
        # The pending items are the record of what to bill; payments bills them sooner (its sweeper bills them
        # if that is lost).
        providers.get("plan_change_bill_soon")(tenant=tenant)
