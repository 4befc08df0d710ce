"""Demo state for `make run`: Stripe stand-in customers for beta, gamma and delta (states 2–4); acme has none;
then the licenses, which need a payment method: gamma on a paid Business license (state 3), delta on Business
with a reserved downgrade to Starter (state 4). acme and beta stay on Free.

Idempotent (an existing payment account is kept). If the stand-in is not reachable, prints a warning. gamma and
delta (paid licenses) also get the stand-in's test Visa card, so their invoices are charged.
"""

from billing_portal.common.exceptions import ApplicationError
from licenses.models import PlanReservation
from licenses.selectors import license_get, plan_get
from licenses.services import license_purchase, license_reserve_change
from payments.charging import cards, customers
from payments.charging import gateway as stripe_gateway

from .charging.selectors import payment_method_missing_reason
from .models import PaymentAccount, PaymentMethod

# Tenants with a paid license in the demo get the stand-in's test Visa card, so their invoices are charged.
DEMO_CARDS = ("gamma", "delta")

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
                cards.payment_account_link(tenant=tenant, stripe_customer_id=account.stripe_customer_id)
                continue
            except stripe_gateway.StripeObjectMissing:
                # The stand-in keeps state in memory: after a restart the old customer is gone; make a new one.
                PaymentMethod.objects.filter(tenant=tenant).delete()
                account.delete()
            except ApplicationError as exc:
                stdout.write(f"  warning: could not check the Stripe customer of {slug} ({exc.message})")
                continue
        try:
            account = customers.payment_account_create(tenant=tenant, name=name, email=email)
        except ApplicationError as exc:
            stdout.write(f"  warning: no Stripe customer for {slug} ({exc.message})")
            continue
        stdout.write(f"  payment account {account.stripe_customer_id} for {slug}")
    for slug in DEMO_CARDS:
        tenant = tenants.get(slug)
        if tenant is not None and PaymentAccount.objects.filter(tenant=tenant).exists():
            _demo_card(tenant, stdout)
    _seed_licenses(tenants=tenants, users=users, stdout=stdout)


def _demo_card(tenant, stdout) -> None:
    """Register 4242 4242 4242 4242 the way Stripe.js would, against the local stand-in only."""
    import json
    import urllib.request

    from django.conf import settings

    if not stripe_gateway.is_standin() or PaymentMethod.objects.filter(tenant=tenant).exists():
        return
    try:
        intent = cards.card_setup_start(tenant=tenant, attempt="demo")
        body = json.dumps(
            {
                "key": settings.STRIPE_PUBLISHABLE_KEY,
                "client_secret": intent["client_secret"],
                "payment_method_data": {
                    "type": "card",
                    "card": {
                        "number": "4242424242424242",
                        "exp_month": "12",
                        "exp_year": "2030",
                        "cvc": "123",
                    },
                },
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - the loopback stand-in only
            f"{settings.STRIPE_API_BASE.rstrip('/')}/v1/setup_intents/{intent['id']}/confirm",
            data=body,
            method="POST",
        )
        urllib.request.urlopen(request, timeout=5)  # noqa: S310 - the loopback stand-in only
        card = cards.card_setup_complete(tenant=tenant, setup_intent_id=intent["id"])
    except (ApplicationError, OSError) as exc:
        stdout.write(f"  warning: no demo card for {tenant.slug} ({exc})")
        return
    stdout.write(f"  demo card {card.brand} •••• {card.last4} for {tenant.slug}")


def _ensure_payment_account(tenant, users):
    owner = users.get("owner@demo.example")
    PaymentAccount.objects.get_or_create(
        tenant=tenant,
        defaults={
            "stripe_customer_id": f"cus_demo_{tenant.slug}",
            "name": tenant.name,
            "email": owner.email if owner else "billing@demo.example",
        },
    )


def _seed_licenses(*, tenants, users, stdout):
    for slug in ("gamma", "delta"):
        tenant = tenants.get(slug)
        if tenant is None:
            continue
        _ensure_payment_account(tenant, users)
        missing = payment_method_missing_reason(tenant=tenant)
        if missing and license_get(tenant=tenant).plan.is_free:
            # A plan needs a payment method; without the stand-in's demo card the tenant stays on Free.
            stdout.write(f"  warning: {slug} stays on Free: {missing}")
            continue
        if license_get(tenant=tenant).plan.is_free:
            license_purchase(
                tenant=tenant,
                plan=plan_get(code="business", currency=tenant.currency),
                actor=users.get("owner@demo.example"),
            )
            stdout.write(f"  licenses: {slug} purchased Business")
    delta = tenants.get("delta")
    if (
        delta is not None
        and not license_get(tenant=delta).plan.is_free
        and not PlanReservation.objects.filter(tenant=delta).exists()
    ):
        license_reserve_change(
            tenant=delta,
            plan=plan_get(code="starter", currency=delta.currency),
            actor=users.get("owner@demo.example"),
        )
        stdout.write("  licenses: delta reserved a downgrade to Starter")
