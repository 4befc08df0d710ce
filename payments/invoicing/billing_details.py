"""Billing details (reads): a month's usage per channel (RP) and service with the fees the plan puts on it."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext

from billing_portal.common import clock
from licenses.models import PricingUnit
from licenses.pricing import plan_fixed_amount, plan_units, unit_line
from metering.models import MeteringUnit
from metering.selectors import mau_count, usage_by_channel
from payments.invoicing.cycle import plan_at

BYTES_HINTS = ("disk", "byte", "storage")


def is_bytes_unit(unit_name: str) -> bool:
    return any(hint in unit_name.lower() for hint in BYTES_HINTS)


def months_for_selection(*, tenant, count: int = 12) -> list[tuple[int, int]]:
    local = clock.now().astimezone(ZoneInfo(tenant.time_zone))
    year, month, result = local.year, local.month, []
    for _ in range(count):
        result.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return result


def billing_details(*, tenant, year: int, month: int) -> dict:
    start, end = clock.month_bounds(year, month, tenant.time_zone)
    now = clock.now()
    plan = plan_at(tenant=tenant, at=min(end, now) - timedelta(microseconds=1))
    priced = {
        u.metering_unit.unit_name: u
        for u in plan_units(plan)
        if u.type != PricingUnit.Type.FIXED and u.metering_unit_id
    }
    names = dict(MeteringUnit.objects.values_list("unit_name", "display_name"))
    channels = []
    usage_fee_total = 0
    for rp_id, usage in usage_by_channel(tenant=tenant, year=year, month=month).items():
        rows = [
            {
                "service": gettext("Authentication"),
                "usage": f"{usage['mau']:,} MAU",
                "quantity": usage["auth_events"],
                "kind": "calls",
            }
        ]
        api_fee = disk_fee = 0
        for unit_name, count in sorted(usage["services"].items()):
            kind = "bytes" if is_bytes_unit(unit_name) else "calls"
            rows.append(
                {
                    "service": names.get(unit_name, unit_name),
                    "usage": unit_name,
                    "quantity": count,
                    "kind": kind,
                }
            )
            if unit_name in priced:
                fee = unit_line(priced[unit_name], count)["amount_minor"]
                if kind == "bytes":
                    disk_fee += fee
                else:
                    api_fee += fee
        usage_fee_total += api_fee + disk_fee
        channels.append(
            {
                "rp_id": rp_id or gettext("(no channel)"),
                "rows": rows,
                "api_fee": api_fee,
                "disk_fee": disk_fee,
                "total": api_fee + disk_fee,
            }
        )
    base_fee = 0 if plan.is_free else plan_fixed_amount(plan)
    mau = mau_count(tenant=tenant, year=year, month=month)
    overage = 0
    if plan.max_mau is not None and plan.mau_overage_unit_amount:
        overage = max(0, mau - plan.max_mau) * plan.mau_overage_unit_amount
    return {
        "year": year,
        "month": month,
        "plan": plan,
        "channels": channels,
        "base_fee": base_fee,
        "mau": mau,
        "mau_overage_fee": overage,
        "total": base_fee + usage_fee_total + overage,
        "is_current": start <= now < end,
        "currency": tenant.currency,
    }
