
from billing_portal.common import clock

from .models import Credit, Invoice
from .selectors import credit_balance


def invoice_list(*, tenant):
    return Invoice.objects.filter(tenant=tenant).select_related("replaced_by").order_by("-billing_date", "-id")


def invoice_get_by_receipt(*, tenant, receipt_id: str) -> Invoice | None:
    return Invoice.objects.filter(tenant=tenant, receipt_id=receipt_id).first()


def credit_history(*, tenant):
    """Every credit of the tenant (newest first) and the total still available now."""
    now = clock.now()
    credits = list(Credit.objects.filter(tenant=tenant).order_by("-registered_at", "-id"))
    return {"credits": credits, "credit_available": credit_balance(tenant=tenant, at=now), "now": now}


def upcoming_invoice_preview(*, tenant, at=None) -> dict:
    """What the next monthly invoice would be if the month ended now: next period's fixed fee (after a reserved
    change or a cancellation), this month's usage so far, prorations waiting, credits, tax. Writes nothing."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from licenses.models import ProrationItem
    from licenses.selectors import free_plan_get, license_get, pending_reservation_get
    from licenses.support import support_get

    from .billing_cycle import monthly_lines
    from .discounts import discount_lines
    from .invoicing import compute_totals, credits_in_application_order, tax_rate

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
    pending = list(ProrationItem.objects.select_related("plan_change__to_plan").filter(
        tenant=tenant, status=ProrationItem.Status.PENDING, billing=ProrationItem.Billing.NEXT_INVOICE,
    ).order_by("created_at", "pk"))
    support = support_get(tenant=tenant)
    lines = monthly_lines(tenant=tenant, year=year, month=month, new_plan=next_plan, last_plan=current,
                          pending=pending, support_plan=support.plan if support and support.auto_renew else None)
    lines += [line for _discount, line in discount_lines(tenant=tenant, lines=lines, billing_date=date(year, month, 1),
                                                         plan=next_plan)]
    totals = compute_totals(line_amounts=[line["amount"] for line in lines],
                            credits=credits_in_application_order(tenant=tenant, at=at), rate=tax_rate())
    return {
        "billing_date": date(year, month, 1),
        "currency": tenant.currency, "plan": next_plan, "lines": lines,
        "usage_amount": totals.usage_amount, "credit_applied": totals.credit_applied,
        "determined_amount": totals.determined_amount, "tax_amount": totals.tax_amount,
        "payment_amount": totals.payment_amount,
    }


def invoice_api_summary(invoice) -> dict:
    return {
        "number": invoice.number, "receipt_id": invoice.receipt_id, "kind": invoice.kind,
        "billing_date": invoice.billing_date.isoformat(), "currency": invoice.currency,
        "usage_amount": invoice.usage_amount, "credit_applied": invoice.credit_applied,
        "determined_amount": invoice.determined_amount, "tax_amount": invoice.tax_amount,
        "payment_amount": invoice.payment_amount, "status": invoice.status,
        "payment_method": invoice.payment_method,
        "paid_at": invoice.paid_at.isoformat() if invoice.paid_at else None,
        "lines": [{"description": line.description, "quantity": str(line.quantity.normalize()),
                   "unit_amount": line.unit_amount, "amount": line.amount} for line in invoice.lines.all()],
    }


def discounts_active(*, tenant) -> list:
    """The tenant's discounts that still apply to a coming invoice (used-up and ended ones left out)."""
    from zoneinfo import ZoneInfo

    from .models import Coupon, Discount

    today = clock.now().astimezone(ZoneInfo(tenant.time_zone)).date()
    result = []
    for discount in Discount.objects.filter(tenant=tenant).select_related("coupon").order_by("created_at"):
        if discount.coupon.duration == Coupon.Duration.ONCE and discount.used_once:
            continue
        if discount.ends_before is not None and discount.ends_before <= today:
            continue
        result.append(discount)
    return result


def immediate_charge_preview(*, tenant, line_amounts, at=None) -> dict:
    """What an invoice billed at once (a purchase or an always_invoice upgrade) of these lines would charge:
    the same credits and the same single tax rounding `invoicing.invoice_issue` uses, so the confirmation page
    shows exactly the amount sent to Stripe. Writes nothing."""
    from .invoicing import compute_totals, credits_in_application_order, tax_rate

    totals = compute_totals(line_amounts=list(line_amounts),
                            credits=credits_in_application_order(tenant=tenant, at=at or clock.now()), rate=tax_rate())
    return {"usage": totals.usage_amount, "credit": totals.credit_applied, "subtotal": totals.determined_amount,
            "tax": totals.tax_amount, "total": totals.payment_amount, "tax_rate_percent": tax_rate() * 100}
