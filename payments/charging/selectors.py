"""Reads: payment account, payment methods, payment settings."""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from payments.models import PaymentAccount, PaymentMethod, PaymentMethodType, PaymentSettings


def payment_account_get(*, tenant) -> PaymentAccount | None:
    return PaymentAccount.objects.filter(tenant=tenant).first()


def payment_account_dashboard(*, tenant) -> dict:
    """Context for the dashboard's payment-account panel (`payment_account` is also used by the license panel)."""
    from payments.forms import PaymentAccountForm

    account = payment_account_get(tenant=tenant)
    return {
        "payment_account": account,
        "payment_account_form": None if account else PaymentAccountForm(),
    }


def payment_method_default(*, tenant) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(tenant=tenant, is_default=True).first()


def payment_method_get(*, tenant, pk) -> PaymentMethod:
    return get_object_or_404(PaymentMethod, tenant=tenant, pk=pk)


def payment_settings_get(*, tenant) -> PaymentSettings:
    return PaymentSettings.objects.filter(tenant=tenant).first() or PaymentSettings(tenant=tenant)


def bank_transfer_unavailable_reason(*, tenant) -> str:
    """Why invoice payment (bank transfer) cannot be chosen, or "" when it can."""
    if (tenant.country or "").upper() != "JP":
        return _("Invoice payment (bank transfer) is only available to customers in Japan.")
    return ""


def payment_method_missing_reason(*, tenant) -> str:
    """Why the tenant cannot buy or set a paid plan yet ("" when it can): a payment account and a registered
    payment method — a card, or invoice payment (bank transfer, Japan only) with a billing address."""
    if payment_account_get(tenant=tenant) is None:
        return _("Create a payment account first.")
    settings_ = PaymentSettings.objects.filter(tenant=tenant).first()
    if settings_ is not None and settings_.method == PaymentMethodType.BANK_TRANSFER:
        if settings_.billing_address and not bank_transfer_unavailable_reason(tenant=tenant):
            return ""
        return _(
            "Invoice payment needs a billing address in Japan; register a card or complete the billing address."
        )
    if payment_method_default(tenant=tenant) is None:
        return _(
            "Please register your payment method before setting your plan: add a card (or choose invoice payment) "
            "on the billing information page."
        )
    return ""


def payment_management(*, tenant) -> dict:
    """Context for the "Payment management" section of the billing-information page."""
    return {
        "payment_account": payment_account_get(tenant=tenant),
        "cards": list(PaymentMethod.objects.filter(tenant=tenant)),
        "default_card": payment_method_default(tenant=tenant),
        "payment_settings": payment_settings_get(tenant=tenant),
        "bank_transfer_reason": bank_transfer_unavailable_reason(tenant=tenant),
    }
