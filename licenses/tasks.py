from celery import shared_task

from billing_portal.common.queue import enqueue_on_commit


@shared_task
def licenses_roll_over_tenant(tenant_id: int) -> None:
    """Renew / apply the reservation / expire one tenant's license at its period end (idempotent)."""
    from accounts.models import Tenant

    from .services import licenses_roll_over

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is not None:
        licenses_roll_over(tenant=tenant)


@shared_task
def licenses_roll_over_due() -> int:
    """Beat entry: fan out one task per tenant whose paid license period has ended."""
    from billing_portal.common import clock

    from .models import License

    tenant_ids = list(
        License.objects.filter(
            current_period_end__lte=clock.now(), tenant__test_clock__isnull=True
        ).values_list("tenant_id", flat=True)  # test tenants roll over when their test clock is advanced
    )
    for tenant_id in tenant_ids:
        enqueue_on_commit(licenses_roll_over_tenant, tenant_id)
    return len(tenant_ids)
