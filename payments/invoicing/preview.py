"""Previews: the upcoming invoice and the charge a plan change would make now (reads)."""

from billing_portal.common import clock


def upcoming_invoice_preview(*, tenant, at=None) -> dict:
    """What the next monthly invoice would be if the month ended now: next period's fixed fee (after a reserved
    change or a cancellation), this month's usage so far, prorations waiting, credits, tax. Writes nothing."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from licenses.models import ProrationItem
    from licenses.selectors import free_plan_get, license_get, pending_reservation_get
    from licenses.support import support_get
    from payments.invoicing.credits import credits_in_application_order
    from payments.invoicing.cycle import monthly_lines
    from payments.invoicing.discounts import discount_lines
    from payments.invoicing.documents import compute_totals, tax_rate_of

    at = at or clock.now()
    local = at.astimezone(ZoneInfo(tenant.time_zone))
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    license = license_get(tenant=tenant)
    current = license.plan
    reservation = pending_reservation_get(tenant=tenant)
    if not current.is_free and not license.auto_renew:
        next_plan = free_plan_get(currency=tenant.currency)
    elif reservation is not None:
        next_plan = reservation.plan
    else:
        next_plan = current
    pending = list(
        ProrationItem.objects.select_related("plan_change__to_plan")
        .filter(
            tenant=tenant,
            status=ProrationItem.Status.PENDING,
            billing=ProrationItem.Billing.NEXT_INVOICE,
        )
        .order_by("created_at", "pk")
    )
    support = support_get(tenant=tenant)
    lines = monthly_lines(
        tenant=tenant,
        year=year,
        month=month,
        new_plan=next_plan,
        last_plan=current,
        pending=pending,
        support_plan=support.plan if support and support.auto_renew else None,
    )
    lines += [
        line
        for _discount, line in discount_lines(
            tenant=tenant, lines=lines, billing_date=date(year, month, 1), plan=next_plan
        )
    ]
    totals = compute_totals(
        line_amounts=[(line["amount"], tax_rate_of(line.get("tax_category"))) for line in lines],
        credits=credits_in_application_order(tenant=tenant, at=at),
    )
    return {
        "billing_date": date(year, month, 1),
        "currency": tenant.currency,
        "plan": next_plan,
        "lines": lines,
        "usage_amount": totals.usage_amount,
        "credit_applied": totals.credit_applied,
        "determined_amount": totals.determined_amount,
        "tax_amount": totals.tax_amount,
        "payment_amount": totals.payment_amount,
    }


def immediate_charge_preview(*, tenant, line_amounts, at=None) -> dict:
    """What an invoice billed at once (a purchase or an always_invoice upgrade) of these lines would charge:
    the same credits and the same single tax rounding `invoicing.invoice_issue` uses, so the confirmation page
    shows exactly the amount sent to Stripe. Writes nothing."""
    from payments.invoicing.credits import credits_in_application_order
    from payments.invoicing.documents import compute_totals, tax_rate

    totals = compute_totals(
        line_amounts=list(line_amounts),
        credits=credits_in_application_order(tenant=tenant, at=at or clock.now()),
        rate=tax_rate(),
    )
    return {
        "usage": totals.usage_amount,
        "credit": totals.credit_applied,
        "subtotal": totals.determined_amount,
        "tax": totals.tax_amount,
        "total": totals.payment_amount,
        "tax_rate_percent": tax_rate() * 100,
    }
