from billing_portal.common import clock

from .models import License
from .selectors import free_plan_get


def license_start_free(*, tenant) -> License:
    """Put a new tenant on the Free license (no end date)."""
    now = clock.now()
    license, _ = License.objects.get_or_create(
        tenant=tenant,
        defaults={
            "plan": free_plan_get(currency=tenant.currency),
            "started_at": now,
            "current_period_start": now,
            "current_period_end": None,
            "auto_renew": True,
        },
    )
    return license
