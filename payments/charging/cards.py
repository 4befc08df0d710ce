"""Cards: registering through a SetupIntent, removing, choosing card or bank transfer (writes)."""

from django.db import transaction
from django.utils.translation import gettext as _

from billing_portal.common.exceptions import ApplicationError
from payments.charging import gateway as stripe_gateway
from payments.charging.customers import payment_account_require
from payments.models import (
    PaymentAccount,
    PaymentMethod,
    PaymentMethodType,
    PaymentSettings,
)


def payment_account_link(*, tenant, stripe_customer_id: str) -> PaymentAccount:
    """Sales-led: link an existing Stripe customer (ops, in Django admin); name and e-mail come from Stripe."""
    stripe_customer_id = (stripe_customer_id or "").strip()
    if not stripe_customer_id.startswith("cus_"):
        raise ApplicationError(_("A Stripe customer ID starts with 'cus_'."), code="bad_customer_id")
    customer = stripe_gateway.customer_retrieve(customer_id=stripe_customer_id)
    if customer["deleted"]:
        raise ApplicationError(_("That Stripe customer has been deleted."), code="customer_deleted")
    other = (
        PaymentAccount.objects.filter(stripe_customer_id=stripe_customer_id).exclude(tenant=tenant).first()
    )
    if other is not None:
        raise ApplicationError(
            _("That Stripe customer is already linked to %(tenant)s.") % {"tenant": other.tenant},
            code="customer_in_use",
        )
    with transaction.atomic():
        account, _created = PaymentAccount.objects.select_for_update().update_or_create(
            tenant=tenant,
            defaults={
                "stripe_customer_id": stripe_customer_id,
                "name": customer["name"] or tenant.name,
                "email": customer["email"],
            },
        )
    payment_methods_sync(tenant=tenant)
    return account


def card_setup_start(*, tenant, attempt: str) -> dict:
    """A SetupIntent for Stripe Elements; `attempt` is a nonce from the page so a double submit reuses it."""
    account = payment_account_require(tenant=tenant)
    return stripe_gateway.setup_intent_create(
        customer_id=account.stripe_customer_id, idempotency_key=f"tenant-{tenant.pk}-setup-{attempt}"[:255]
    )


def card_setup_complete(*, tenant, setup_intent_id: str) -> PaymentMethod:
    """After Stripe.js confirmed the SetupIntent: check it with Stripe, attach the card, make it the default."""
    account = payment_account_require(tenant=tenant)
    intent = stripe_gateway.setup_intent_retrieve(setup_intent_id=setup_intent_id)
    if intent["customer"] != account.stripe_customer_id:
        raise ApplicationError(
            _("This card setup does not belong to your payment account."), code="not_yours", status=404
        )
    if intent["status"] != "succeeded" or not intent["payment_method"]:
        raise ApplicationError(
            _("The card was not confirmed. Please try again."), code="setup_incomplete", status=409
        )
    return _card_attach_as_default(tenant=tenant, account=account, payment_method_id=intent["payment_method"])


def _card_attach_as_default(*, tenant, account, payment_method_id: str) -> PaymentMethod:
    pm = stripe_gateway.payment_method_retrieve(payment_method_id=payment_method_id)
    if pm["customer"] not in (None, account.stripe_customer_id):
        raise ApplicationError(
            _("This card belongs to another payment account."), code="not_yours", status=404
        )
    if pm["customer"] is None:
        pm = stripe_gateway.payment_method_attach(
            payment_method_id=payment_method_id,
            customer_id=account.stripe_customer_id,
            idempotency_key=f"pm-{payment_method_id}-attach-{account.stripe_customer_id}",
        )
    stripe_gateway.customer_update(
        customer_id=account.stripe_customer_id,
        default_payment_method=payment_method_id,
        idempotency_key=f"customer-{account.stripe_customer_id}-default-{payment_method_id}",
    )
    # Replacing: the previous cards are detached at Stripe so only one card is on file.
    for old in PaymentMethod.objects.filter(tenant=tenant).exclude(
        stripe_payment_method_id=payment_method_id
    ):
        _detach_quietly(old.stripe_payment_method_id)
    return payment_methods_sync(tenant=tenant, default_id=payment_method_id)


def _detach_quietly(payment_method_id: str) -> None:
    try:
        stripe_gateway.payment_method_detach(
            payment_method_id=payment_method_id, idempotency_key=f"pm-{payment_method_id}-detach"
        )
    except stripe_gateway.StripeObjectMissing:
        pass


def card_remove(*, tenant, payment_method: PaymentMethod) -> None:
    if payment_method.tenant_id != tenant.pk:
        raise ApplicationError(_("No such card."), code="not_found", status=404)
    account = payment_account_require(tenant=tenant)
    _detach_quietly(payment_method.stripe_payment_method_id)
    stripe_gateway.customer_update(
        customer_id=account.stripe_customer_id,
        clear_default_payment_method=True,
        idempotency_key=f"customer-{account.stripe_customer_id}-default-clear-{payment_method.stripe_payment_method_id}",
    )
    payment_methods_sync(tenant=tenant)


def payment_methods_sync(*, tenant, default_id: str | None = None) -> PaymentMethod | None:
    """Make the local card summaries match Stripe (Stripe is the source of truth). Returns the default card."""
    account = PaymentAccount.objects.filter(tenant=tenant).first()
    remote = []
    if account is not None:
        remote = stripe_gateway.payment_methods_list(customer_id=account.stripe_customer_id)
        if default_id is None:
            default_id = stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)[
                "default_payment_method"
            ]
    if remote and default_id not in {pm["id"] for pm in remote}:
        default_id = remote[0]["id"]
    with transaction.atomic():
        list(PaymentMethod.objects.select_for_update().filter(tenant=tenant))
        PaymentMethod.objects.filter(tenant=tenant).exclude(
            stripe_payment_method_id__in=[pm["id"] for pm in remote]
        ).delete()
        for pm in remote:
            PaymentMethod.objects.update_or_create(
                stripe_payment_method_id=pm["id"],
                defaults={
                    "tenant": tenant,
                    "brand": pm["brand"],
                    "last4": pm["last4"],
                    "exp_month": pm["exp_month"],
                    "exp_year": pm["exp_year"],
                    "is_default": pm["id"] == default_id,
                },
            )
    return PaymentMethod.objects.filter(tenant=tenant, is_default=True).first()


def payment_method_choose(*, tenant, method: str, billing_address: str = "") -> PaymentSettings:
    """Card or invoice payment (bank transfer). Invoice payment only in Japan and with a billing address."""
    from payments.charging.selectors import bank_transfer_unavailable_reason

    if method not in PaymentMethodType.values:
        raise ApplicationError(_("Choose card or invoice payment."), code="bad_method")
    billing_address = (billing_address or "").strip()
    if method == PaymentMethodType.BANK_TRANSFER:
        reason = bank_transfer_unavailable_reason(tenant=tenant)
        if reason:
            raise ApplicationError(reason, code="bank_transfer_unavailable")
        if not billing_address:
            raise ApplicationError(
                _("Invoice payment needs a billing address."),
                code="billing_address_required",
                extra={"field": "billing_address"},
            )
    with transaction.atomic():
        settings_, _created = PaymentSettings.objects.select_for_update().get_or_create(tenant=tenant)
        settings_.method = method
        if billing_address:
            settings_.billing_address = billing_address
        settings_.save()
        if method == PaymentMethodType.BANK_TRANSFER:
            from payments.invoicing.transfers import transfer_profile_assign

            transfer_profile_assign(tenant=tenant)  # its transfer reference, kept for good
    return settings_
