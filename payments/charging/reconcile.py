"""Reconciliation of payments against Stripe (`manage.py stripe_reconcile`)."""

from django.db.models import Q

from billing_portal.common.exceptions import ApplicationError
from payments.charging import gateway as stripe_gateway
from payments.charging.attempts import _payment_intent_of, payment_refresh_from_stripe
from payments.charging.cards import payment_methods_sync
from payments.models import (
    Payment,
    PaymentAccount,
    PaymentMethod,
)


def stripe_reconcile(*, fix: bool = False) -> dict:
    """Compare each payment account (name, e-mail, cards) and each unfinished payment with Stripe.

    Stripe is the source of truth; with `fix`, the local copy is brought in line. Returns a report dict.
    """
    drift, errors = [], []
    accounts = list(PaymentAccount.objects.select_related("tenant"))
    for account in accounts:
        tenant = account.tenant
        try:
            customer = stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)
            if customer["deleted"]:
                errors.append(
                    f"{tenant.slug}: Stripe customer {account.stripe_customer_id} was deleted at Stripe"
                )
                continue
            for field in ("name", "email"):
                if customer[field] and customer[field] != getattr(account, field):
                    drift.append(
                        f"{tenant.slug}: payment account {field} {getattr(account, field)!r} "
                        f"!= Stripe {customer[field]!r}"
                    )
                    if fix:
                        PaymentAccount.objects.filter(pk=account.pk).update(**{field: customer[field]})
            remote = {
                pm["id"]: pm
                for pm in stripe_gateway.payment_methods_list(customer_id=account.stripe_customer_id)
            }
            local = {pm.stripe_payment_method_id: pm for pm in PaymentMethod.objects.filter(tenant=tenant)}
            for pm_id in remote.keys() - local.keys():
                drift.append(
                    f"{tenant.slug}: card {pm_id} (•••• {remote[pm_id]['last4']}) at Stripe is missing locally"
                )
            for pm_id in local.keys() - remote.keys():
                drift.append(
                    f"{tenant.slug}: card {pm_id} (•••• {local[pm_id].last4}) is no longer at Stripe"
                )
            for pm_id in local.keys() & remote.keys():
                r, loc = remote[pm_id], local[pm_id]
                if (r["last4"], r["exp_month"], r["exp_year"]) != (loc.last4, loc.exp_month, loc.exp_year):
                    drift.append(f"{tenant.slug}: card {pm_id} details differ from Stripe")
            if fix and any(line.startswith(f"{tenant.slug}: card") for line in drift):
                payment_methods_sync(tenant=tenant, default_id=customer["default_payment_method"])
        except ApplicationError as exc:
            errors.append(f"{tenant.slug}: {exc.message}")
    # Unfinished attempts, with or without a PaymentIntent id (one killed before Stripe answered has none: it
    # is found by its metadata). With `fix`, the attempt and its invoice are brought in line.
    payments = list(
        Payment.objects.select_related("tenant").filter(
            Q(status=Payment.Status.PENDING)
            | (~Q(stripe_payment_intent_id="") & ~Q(status=Payment.Status.SUCCESSFUL))
        )
    )
    for payment in payments:
        try:
            intent = _payment_intent_of(payment)
        except ApplicationError as exc:
            errors.append(f"payment {payment.idempotency_key}: {exc.message}")
            continue
        remote = intent["status"] if intent else "not at Stripe"
        if remote != payment.status:
            drift.append(f"payment {payment.idempotency_key}: {payment.status} locally, {remote} at Stripe")
            if fix:
                try:
                    payment_refresh_from_stripe(payment=payment)
                except ApplicationError as exc:
                    errors.append(f"payment {payment.idempotency_key}: {exc.message}")
    return {"accounts": len(accounts), "payments": len(payments), "drift": drift, "errors": errors}
