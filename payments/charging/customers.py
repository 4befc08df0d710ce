"""The tenant's payment account (its Stripe customer) and the Stripe customer portal (writes)."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError
from payments.charging import gateway as stripe_gateway
from payments.models import (
    Credit,
    PaymentAccount,
    PaymentMethod,
)


def _clean_payer(name: str, email: str) -> tuple[str, str]:
    name = (name or "").strip()
    email = (email or "").strip()
    if not name:
        raise ApplicationError(_("Enter the payer's name."), code="bad_name", extra={"field": "name"})
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError(
            _("Enter a valid e-mail address."), code="bad_email", extra={"field": "email"}
        ) from None
    return name, email


def payment_account_create(*, tenant, name: str, email: str) -> PaymentAccount:
    """Create the Stripe customer for the tenant and keep only its id (plus payer name and e-mail)."""
    name, email = _clean_payer(name, email)
    existing = PaymentAccount.objects.filter(tenant=tenant).first()
    if existing is not None:
        return existing
    customer = stripe_gateway.customer_create(
        name=name, email=email, tenant_slug=tenant.slug, idempotency_key=f"tenant-{tenant.pk}-customer-create"
    )
    try:
        with transaction.atomic():
            return PaymentAccount.objects.create(
                tenant=tenant, stripe_customer_id=customer["id"], name=name, email=email
            )
    except IntegrityError:
        return PaymentAccount.objects.get(tenant=tenant)


def payment_account_update(*, account: PaymentAccount, name: str, email: str) -> PaymentAccount:
    """Change payer name / e-mail at Stripe, then locally."""
    name, email = _clean_payer(name, email)
    # The key names this edit (the account's last change), not the values: going back to an earlier name within
    # Stripe's 24 hours must reach Stripe, not replay the first request.
    version = int(account.updated_at.timestamp() * 1_000_000)
    stripe_gateway.customer_update(
        customer_id=account.stripe_customer_id,
        name=name,
        email=email,
        idempotency_key=f"customer-{account.stripe_customer_id}-update-{version}-{name}-{email}"[:255],
    )
    PaymentAccount.objects.filter(pk=account.pk).update(name=name, email=email, updated_at=clock.now())
    account.refresh_from_db()
    return account


def payment_account_require(*, tenant) -> PaymentAccount:
    account = PaymentAccount.objects.filter(tenant=tenant).first()
    if account is None:
        raise ApplicationError(_("Create a payment account first."), code="no_payment_account", status=409)
    return account


def customer_portal_url(*, tenant, return_url: str) -> str:
    account = payment_account_require(tenant=tenant)
    return stripe_gateway.billing_portal_url(
        customer_id=account.stripe_customer_id, tenant_slug=tenant.slug, return_url=return_url
    )


def payments_data_close(*, tenant) -> dict:
    """Unsubscribe, payments side: delete the Stripe customer, then the tenant's payment account, cards, settings and
    unused credits. Invoices, payments and the credits they used are kept (the law requires the records);
    invoices lose the payer's e-mail address. Stripe first: if it fails, nothing local is deleted."""
    account = PaymentAccount.objects.filter(tenant=tenant).first()
    if account is not None:
        stripe_gateway.customer_delete(customer_id=account.stripe_customer_id)
    from payments.models import CreditApplication, CreditRedemption, Invoice, PaymentSettings

    with transaction.atomic():
        used = set(
            CreditApplication.objects.filter(credit__tenant=tenant).values_list("credit_id", flat=True)
        )
        unused_credits = Credit.objects.filter(tenant=tenant).exclude(pk__in=used)
        CreditRedemption.objects.filter(tenant=tenant, credit__in=unused_credits).delete()
        counts = {
            "cards": PaymentMethod.objects.filter(tenant=tenant).delete()[0],
            "payment_settings": PaymentSettings.objects.filter(tenant=tenant).delete()[0],
            "payment_account": PaymentAccount.objects.filter(tenant=tenant).delete()[0],
            "credits": unused_credits.delete()[0],
        }
        Invoice.objects.filter(tenant=tenant).update(buyer_email="")
    return counts
