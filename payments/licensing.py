"""What payments answers for licenses (billing_portal.common.providers), registered in payments/apps.py: whether a
tenant can pay for a plan, the credit of a downgrade's negative proration, and billing a plan change at once."""

from billing_portal.common.queue import enqueue_on_commit

from .charging.selectors import payment_account_get, payment_method_missing_reason
from .invoicing.credits import credit_grant
from .tasks import bill_plan_change


def payment_method_problem(*, tenant) -> tuple[str, str, int] | None:
    """(code, message, HTTP status) of why the tenant cannot pay for a plan yet, or None."""
    reason = payment_method_missing_reason(tenant=tenant)
    if not reason:
        return None
    if payment_account_get(tenant=tenant) is None:
        return "no_payment_account", reason, 400
    return "no_payment_method", reason, 409


def proration_credit_grant(*, tenant, change) -> None:
    """A plan change that costs less than what was paid for the rest of the period becomes tenant credit, once
    per change (source_key)."""
    credit_grant(
        tenant=tenant,
        name=f"Proration: {change.from_plan.name} → {change.to_plan.name}",
        amount_minor=-change.difference_amount,
        currency=change.currency,
        source="proration",
        source_key=f"proration-{change.pk}",
    )


def plan_change_bill_soon(*, tenant) -> None:
    """Bill the tenant's pending immediate proration items from a worker once the change commits; the pending
    items are the record, so the sweeper bills them if the queue message is lost."""
    enqueue_on_commit(bill_plan_change, tenant.pk, inline=False)
