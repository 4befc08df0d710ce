"""Late authentication events: nothing lost, nothing silently unbilled.

Policy (README "Late authentication events", API docs, billing-details page):
- An event is *late* when its month (tenant's time zone) has already been invoiced — the monthly invoice of the
  following month exists. It is still accepted and counted in its own month (MAU stays exact), and the ingest
  answer reports it: `"late": <events>`, `"late_months": ["YYYY-MM", …]`.
- The next monthly invoice carries a labelled adjustment line per such month for the extra MAU overage the late
  events caused ("MAU overage adjustment for 2027-03 (late authentication events)"), priced by the plan in
  effect at the end of that month. What each invoice billed is recorded in `metering.MauBilled` (unique per
  tenant, month and invoice), so an adjustment is billed once and a re-run bills nothing twice.
- `BILLING_LATE_EVENTS_GRACE_HOURS` (default 0) holds the monthly invoice back for that many hours after the
  month begins, so events that arrive a little late are billed on the regular invoice instead.
"""

from datetime import date, timedelta

from django.conf import settings

from billing_portal.common import clock


def grace() -> timedelta:
    return timedelta(hours=max(0, int(getattr(settings, "BILLING_LATE_EVENTS_GRACE_HOURS", 0) or 0)))


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def invoiced_usage_months(*, tenant, months) -> set:
    """Which of these usage months (first days) have been billed by a monthly invoice already."""
    from payments.invoicing.cycle import monthly_source_key
    from payments.models import Invoice

    keys = {monthly_source_key(tenant, _next_month(m).year, _next_month(m).month): m for m in months}
    done = Invoice.objects.filter(source_key__in=keys).values_list("source_key", flat=True)
    return {keys[key] for key in done}


def late_events_report(*, tenant, accepted_by_month) -> dict:
    """The ingest answer's `late` and `late_months` for the events just accepted ({month first day: count})."""
    closed = invoiced_usage_months(tenant=tenant, months=[m for m, n in accepted_by_month.items() if n])
    return {
        "late": sum(accepted_by_month[m] for m in closed),
        "late_months": sorted(f"{m:%Y-%m}" for m in closed),
    }


def _overage_plan(plan) -> bool:
    return (
        plan is not None
        and not plan.is_free
        and plan.max_mau is not None
        and bool(plan.mau_overage_unit_amount)
    )


def late_mau_adjustments(*, tenant, before: date) -> list[dict]:
    """Adjustment lines for usage months before `before` whose MAU overage grew after they were billed.
    Returns [{"month", "line", "overage", "mau"}] (the month's MAU now, from the event store); writes nothing."""
    from decimal import Decimal

    from django.db.models import Max

    from billing_portal.common.money import round_minor
    from metering.models import MauBilled
    from metering.selectors import mau_of_months
    from payments.invoicing.cycle import plan_at

    billed = dict(
        MauBilled.objects.filter(tenant=tenant, month__lt=before)
        .values("month")
        .annotate(overage=Max("overage_billed"))
        .values_list("month", "overage")
    )
    if not billed:
        return []
    counters = mau_of_months(tenant=tenant, months=list(billed))
    result = []
    for month in sorted(billed):
        _start, end = clock.month_bounds(month.year, month.month, tenant.time_zone)
        plan = plan_at(tenant=tenant, at=end - timedelta(microseconds=1))
        if not _overage_plan(plan):
            continue
        overage = max(0, int(counters.get(month, 0)) - plan.max_mau)
        extra = overage - billed[month]
        if extra <= 0:
            continue
        result.append(
            {
                "month": month,
                "overage": overage,
                "mau": int(counters.get(month, 0)),
                "line": {
                    "description": f"MAU overage adjustment for {month:%Y-%m} (late authentication events, above "
                    f"{plan.max_mau:,} MAU)",
                    "quantity": extra,
                    "unit_amount": plan.mau_overage_unit_amount,
                    "category": "usage",
                    "amount": round_minor(Decimal(plan.mau_overage_unit_amount) * extra),
                },
            }
        )
    return result


def mau_billed_record(*, tenant, month: date, mau: int, overage: int, source_key: str) -> None:
    """One INSERT … ON CONFLICT DO NOTHING (no savepoint on the invoicing path); the unique key makes it once."""
    from metering.models import MauBilled

    MauBilled.objects.bulk_create(
        [
            MauBilled(
                tenant=tenant,
                month=month,
                invoice_source_key=source_key,
                mau_billed=mau,
                overage_billed=overage,
                created_at=clock.now(),
            )
        ],
        ignore_conflicts=True,
    )


def record_monthly_invoice_usage(
    *, tenant, last_plan, last_month: date, lines, adjustments, source_key
) -> None:
    """After the monthly invoice is issued (same transaction): what it billed of last month's MAU, and the
    adjustments it carried. This freezes the MAU the invoice billed into PostgreSQL (`MauBilled`, idempotent by
    the invoice's source key) whichever event store counted it (metering/event_store.py)."""
    from metering.selectors import mau_count

    for row in monthly_usage_rows(
        last_plan=last_plan,
        last_month=last_month,
        lines=lines,
        adjustments=adjustments,
        mau=lambda: mau_count(tenant=tenant, year=last_month.year, month=last_month.month),
    ):
        mau_billed_record(tenant=tenant, source_key=source_key, **row)


def monthly_usage_rows(*, last_plan, last_month: date, lines, adjustments, mau) -> list[dict]:
    """What a monthly invoice freezes into MauBilled: [{"month", "mau", "overage"}] (pure; `mau` is called for
    last month's MAU only when the plan bills overage). Both the per-tenant and the set-based run use it."""
    rows = []
    if _overage_plan(last_plan):
        overage = next(
            (
                int(line.get("quantity") or 0)
                for line in lines
                if str(line["description"]).startswith("MAU overage (above")
            ),
            0,
        )
        rows.append({"month": last_month, "overage": overage, "mau": mau()})
    for adjustment in adjustments:
        rows.append(
            {"month": adjustment["month"], "overage": adjustment["overage"], "mau": adjustment["mau"]}
        )
    return rows
