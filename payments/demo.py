"""Demo state for `make run`: Stripe stand-in customers for beta, gamma and delta (states 2–4); acme has none.

Idempotent (an existing payment account is kept). If the stand-in is not reachable, prints a warning.
"""

from billing_portal.common.exceptions import ApplicationError

from . import services, stripe_gateway
from .models import PaymentAccount, PaymentMethod

PAYERS = {
    "beta": ("Beta Systems Accounting", "billing@beta.example"),
    "gamma": ("Gamma Cloud Accounts Payable", "ap@gamma.example"),
    "delta": ("Delta Finance Treasury", "treasury@delta.example"),
}


def seed(*, tenants, users, stdout):
    for slug, tenant in tenants.items():
        account = PaymentAccount.objects.filter(tenant=tenant).first()
        if slug not in PAYERS and account is not None:
            # e.g. acme after someone created an account in the browser: back to state 1 if Stripe forgot it.
            try:
                stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)
            except stripe_gateway.StripeObjectMissing:
                PaymentMethod.objects.filter(tenant=tenant).delete()
                account.delete()
            except ApplicationError:
                pass
    for slug, (name, email) in PAYERS.items():
        tenant = tenants.get(slug)
        if tenant is None:
            continue
        account = PaymentAccount.objects.filter(tenant=tenant).first()
        if account is not None:
            try:
                services.payment_account_link(tenant=tenant, stripe_customer_id=account.stripe_customer_id)
                continue
            except stripe_gateway.StripeObjectMissing:
                # The stand-in keeps state in memory: after a restart the old customer is gone; make a new one.
                PaymentMethod.objects.filter(tenant=tenant).delete()
                account.delete()
            except ApplicationError as exc:
                stdout.write(f"  warning: could not check the Stripe customer of {slug} ({exc.message})")
                continue
        try:
            account = services.payment_account_create(tenant=tenant, name=name, email=email)
        except ApplicationError as exc:
            stdout.write(f"  warning: no Stripe customer for {slug} ({exc.message})")
            continue
        stdout.write(f"  payment account {account.stripe_customer_id} for {slug}")
