"""Demo state of licenses: gamma on a paid Business license (state 3), delta on Business with a reserved
downgrade to Starter (state 4). acme and beta stay on Free. Idempotent."""

from payments.models import PaymentAccount

from .models import PlanReservation
from .selectors import license_get, plan_get
from .services import license_purchase, license_reserve_change


def _ensure_payment_account(tenant, users):
    owner = users.get("owner@demo.example")
    PaymentAccount.objects.get_or_create(
        tenant=tenant,
        defaults={"stripe_customer_id": f"cus_demo_{tenant.slug}", "name": tenant.name,
                  "email": owner.email if owner else "billing@demo.example"},
    )


def seed(*, tenants, users, stdout):
    for slug in ("gamma", "delta"):
        tenant = tenants.get(slug)
        if tenant is None:
            continue
        _ensure_payment_account(tenant, users)
        from payments.charging.selectors import payment_method_missing_reason

        missing = payment_method_missing_reason(tenant=tenant)
        if missing and license_get(tenant=tenant).plan.is_free:
            # A plan needs a payment method; without the stand-in's demo card the tenant stays on Free.
            stdout.write(f"  warning: {slug} stays on Free: {missing}")
            continue
        if license_get(tenant=tenant).plan.is_free:
            license_purchase(tenant=tenant, plan=plan_get(code="business", currency=tenant.currency),
                             actor=users.get("owner@demo.example"))
            stdout.write(f"  licenses: {slug} purchased Business")
    delta = tenants.get("delta")
    if (delta is not None and not license_get(tenant=delta).plan.is_free
            and not PlanReservation.objects.filter(tenant=delta).exists()):
        license_reserve_change(tenant=delta, plan=plan_get(code="starter", currency=delta.currency),
                               actor=users.get("owner@demo.example"))
        stdout.write("  licenses: delta reserved a downgrade to Starter")
