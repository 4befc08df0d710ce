from .models import License, Plan


def free_plan_get(*, currency: str) -> Plan:
    return Plan.objects.get(category=Plan.Category.LICENSE, license_type="free", currency=currency)


def license_get(*, tenant) -> License | None:
    return License.objects.select_related("plan").filter(tenant=tenant).first()


def license_dashboard(*, tenant) -> dict:
    """Context for the dashboard's license panel."""
    return {"license": license_get(tenant=tenant)}
