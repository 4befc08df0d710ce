from django.db.models import F, Q, Sum

from billing_portal.common import clock

from .models import Credit, PaymentAccount


def payment_account_get(*, tenant) -> PaymentAccount | None:
    return PaymentAccount.objects.filter(tenant=tenant).first()


def payment_account_dashboard(*, tenant) -> dict:
    """Context for the dashboard's payment-account panel. Creating an account (Stripe) comes with the payments issue."""
    return {"payment_account": payment_account_get(tenant=tenant), "payment_account_enabled": False}


def credit_balance(*, tenant, at=None) -> int:
    """Unexpired, unused credit of the tenant, in its currency's minor units."""
    at = at or clock.now()
    total = (
        Credit.objects.filter(tenant=tenant, currency=tenant.currency)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
        .aggregate(total=Sum(F("amount_charged") - F("amount_used")))["total"]
    )
    return total or 0
