
from billing_portal.common import clock

from .models import Credit, Invoice


def invoice_list(*, tenant):
    return Invoice.objects.filter(tenant=tenant).order_by("-billing_date", "-id")


def invoice_get_by_receipt(*, tenant, receipt_id: str) -> Invoice | None:
    return Invoice.objects.filter(tenant=tenant, receipt_id=receipt_id).first()


def credit_history(*, tenant):
    """Every credit of the tenant (newest first) and the total still available now."""
    now = clock.now()
    credits = list(Credit.objects.filter(tenant=tenant).order_by("-registered_at", "-id"))
    available = sum(
        c.amount_available for c in credits if c.currency == tenant.currency and (c.expires_at is None or c.expires_at > now)
    )
    return {"credits": credits, "credit_available": available, "now": now}
