"""Reads: invoices, credit history and balance, discounts in force."""

from django.db.models import F, Q, Sum

from billing_portal.common import clock
from payments.models import Credit, Invoice


def credit_balance(*, tenant, at=None) -> int:
    """Unexpired, unused credit of the tenant, in its currency's minor units."""
    at = at or clock.now()
    total = (
        Credit.objects.filter(tenant=tenant, currency=tenant.currency)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
        .aggregate(total=Sum(F("amount_charged") - F("amount_used")))["total"]
    )
    return total or 0


def invoice_list(*, tenant):
    return (
        Invoice.objects.filter(tenant=tenant).select_related("replaced_by").order_by("-billing_date", "-id")
    )


def invoice_get_by_receipt(*, tenant, receipt_id: str) -> Invoice | None:
    return Invoice.objects.filter(tenant=tenant, receipt_id=receipt_id).first()


def invoice_get_by_identifier(*, tenant, identifier: str) -> Invoice | None:
    """The tenant's invoice by its receipt ID or its number (2026-00001)."""
    return Invoice.objects.filter(Q(receipt_id=identifier) | Q(number=identifier), tenant=tenant).first()


def credit_history(*, tenant):
    """Every credit of the tenant (newest first) and the total still available now."""
    now = clock.now()
    credits = list(Credit.objects.filter(tenant=tenant).order_by("-registered_at", "-id"))
    return {"credits": credits, "credit_available": credit_balance(tenant=tenant, at=now), "now": now}


def invoice_api_summary(invoice) -> dict:
    return {
        "number": invoice.number,
        "receipt_id": invoice.receipt_id,
        "kind": invoice.kind,
        "billing_date": invoice.billing_date.isoformat(),
        "currency": invoice.currency,
        "usage_amount": invoice.usage_amount,
        "credit_applied": invoice.credit_applied,
        "determined_amount": invoice.determined_amount,
        "tax_amount": invoice.tax_amount,
        "payment_amount": invoice.payment_amount,
        "status": invoice.status,
        "payment_method": invoice.payment_method,
        "paid_at": invoice.paid_at.isoformat() if invoice.paid_at else None,
        "lines": [
            {
                "description": line.description,
                "quantity": str(line.quantity.normalize()),
                "unit_amount": line.unit_amount,
                "amount": line.amount,
            }
            for line in invoice.lines.all()
        ],
    }


def discounts_active(*, tenant) -> list:
    """The tenant's discounts that still apply to a coming invoice (used-up and ended ones left out)."""
    from zoneinfo import ZoneInfo

    from payments.models import Coupon, Discount

    today = clock.now().astimezone(ZoneInfo(tenant.time_zone)).date()
    result = []
    for discount in Discount.objects.filter(tenant=tenant).select_related("coupon").order_by("created_at"):
        if discount.coupon.duration == Coupon.Duration.ONCE and discount.used_once:
            continue
        if discount.ends_before is not None and discount.ends_before <= today:
            continue
        result.append(discount)
    return result
