"""The monthly billing cycle: one invoice per tenant and month on the 1st (fixed fees, usage, MAU overage,
prorations, support, discounts) and immediate invoices for plan changes (writes). Every step is idempotent by
the invoice's unique `source_key`."""

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from accounts.models import Tenant
from billing_portal.common import clock
from billing_portal.common.queue import enqueue_on_commit
from licenses.models import License, Plan, PlanChange, ProrationItem, SupportSubscription
from licenses.pricing import plan_invoice_lines, plan_units
from licenses.services import licenses_roll_over
from licenses.support import support_billed_for
from metering.event_outbox import events_ship
from metering.selectors import mau_count, meter_counts_month
from payments.invoicing import late_usage
from payments.invoicing.documents import invoice_issue
from payments.invoicing.tasks import send_invoice_issued_email
from payments.models import Invoice, PaymentMethodType, PaymentSettings


def _email_invoice_issued_after_commit(invoice_id: int) -> None:
    """The e-mail goes out from a worker once the invoice is committed (not on the invoicing path)."""
    enqueue_on_commit(send_invoice_issued_email, invoice_id)


CHARGE_DAY = 5  # cards are charged on the 5th of the billing month (tenant's time zone)


RETRY_AFTER_DAYS = (3, 5, 7)  # after a failed charge: again 3, 5 and 7 days after the first failure


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


PLAN_CACHE_SECONDS = 60


_plan_cache: dict[int, tuple[float, object]] = {}


def priced_plan(plan_id: int):
    """The plan with its menus, units, tiers and metering units loaded: the catalogue changes rarely, so each
    worker keeps it for PLAN_CACHE_SECONDS instead of reading it again for every tenant."""
    hit = _plan_cache.get(plan_id)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    plan = Plan.objects.prefetch_related("menus__units__tiers", "menus__units__metering_unit").get(pk=plan_id)
    _plan_cache[plan_id] = (time.monotonic() + PLAN_CACHE_SECONDS, plan)
    return plan


def plans_at(*, tenant, instants) -> list:
    """The plan in effect at each instant, from the plan history (the license's plan when nothing changed)."""
    changes = list(
        PlanChange.objects.filter(tenant=tenant, to_plan__category=Plan.Category.LICENSE)
        .order_by("effective_at", "pk")
        .values_list("effective_at", "from_plan_id", "to_plan_id")
    )
    license_plan_id = (
        None if changes else License.objects.values_list("plan_id", flat=True).get(tenant=tenant)
    )
    return [
        priced_plan(plan_id)
        for plan_id in plan_ids_at(changes=changes, instants=instants, license_plan_id=license_plan_id)
    ]


def plan_ids_at(*, changes, instants, license_plan_id) -> list[int]:
    """Pure part of `plans_at`: `changes` are one tenant's license plan changes [(effective_at, from_plan_id,
    to_plan_id)] in (effective_at, pk) order; `license_plan_id` is used when there are none."""
    plan_ids = []
    for at in instants:
        before = [to_plan for effective_at, _from, to_plan in changes if effective_at <= at]
        if before:
            plan_ids.append(before[-1])
        elif changes:
            plan_ids.append(changes[0][1])
        else:
            plan_ids.append(license_plan_id)
    return plan_ids


def plan_at(*, tenant, at):
    return plans_at(tenant=tenant, instants=[at])[0]


def _payment_method(tenant) -> str:
    try:
        settings_ = tenant.payment_settings
    except PaymentSettings.DoesNotExist:
        settings_ = None
    if settings_ and settings_.method == PaymentMethodType.BANK_TRANSFER:
        return Invoice.PaymentMethod.BANK_TRANSFER
    return Invoice.PaymentMethod.CARD


def _as_invoice_line(line: dict, category: str) -> dict:
    """`category` (license | support | usage) says which discounts apply to the line (payments.discounts)."""
    result = {
        "description": line["description"],
        "amount": line["amount_minor"],
        "quantity": line["quantity"],
        "unit_amount": line["unit_amount"],
        "category": category,
    }
    if line.get("tax_category", "standard") != "standard":  # the reduced rate (8%): payments.documents
        result["tax_category"] = line["tax_category"]
    return result


def usage_needed(last_plan) -> tuple[bool, bool]:
    """Whether the invoice of a period that ended on `last_plan` reads (meter usage, MAU)."""
    if last_plan.is_free:
        return False, False
    metered_units = any(unit.type != "fixed" for unit in plan_units(last_plan))
    has_overage = last_plan.max_mau is not None and bool(last_plan.mau_overage_unit_amount)
    return metered_units, has_overage


def monthly_lines(
    *, tenant, year: int, month: int, new_plan, last_plan, pending, support_plan=None, usage=None, mau=None
) -> list[dict]:
    """The lines of the invoice of (year, month): the new period's fixed fees (license, then the support plan),
    the last period's usage and MAU overage (priced by the plan in effect at its end), then the prorations
    waiting for this invoice. `usage` / `mau`: the last period's meter usage and MAU when the caller read them
    already (the set-based run reads them in bulk); otherwise they are read here when the plan needs them."""
    last_year, last_month = previous_month(year, month)
    metered_units, has_overage = usage_needed(last_plan)
    if usage is None:
        usage = meter_counts_month(tenant=tenant, year=last_year, month=last_month) if metered_units else {}
    if mau is None:
        mau = mau_count(tenant=tenant, year=last_year, month=last_month) if has_overage else 0
    lines = []
    if not new_plan.is_free:
        lines += [
            _as_invoice_line(line, "license")
            for line in plan_invoice_lines(new_plan, fixed=True, metered=False)
        ]
    if support_plan is not None:
        lines += [
            _as_invoice_line(line, "support")
            for line in plan_invoice_lines(support_plan, fixed=True, metered=False)
        ]
    if not last_plan.is_free:
        lines += [
            _as_invoice_line(line, "usage")
            for line in plan_invoice_lines(last_plan, fixed=False, metered=True, usage=usage, mau=mau)
        ]
    return lines + [
        {
            "description": item.description,
            "amount": item.amount_minor,
            "category": _category_of(item.plan_change.to_plan),
        }
        for item in pending
    ]


def _category_of(plan) -> str:
    """Which discounts apply to a plan's fee lines: license fees, or support fees (payments.discounts)."""
    return "support" if plan.category == "support" else "license"


def monthly_source_key(tenant, year: int, month: int) -> str:
    return monthly_source_key_of(tenant.pk, year, month)


def monthly_source_key_of(tenant_id: int, year: int, month: int) -> str:
    return f"monthly-{tenant_id}-{year:04d}-{month:02d}"


def monthly_invoice_issue(*, tenant, year: int, month: int) -> Invoice | None:
    """The invoice of the period starting on the 1st of (year, month) in the tenant's time zone: fixed fees for
    the new period, usage and MAU overage of the last one, pending prorations, then credits and tax.
    Returns None when there is nothing to bill (Free before and after, nothing pending)."""
    start, end = clock.month_bounds(year, month, tenant.time_zone)
    # ClickHouse event store: what the tenant's requests have had accepted is in ClickHouse before its MAU is read
    # and frozen into MauBilled (waits for a shipment of its rows under way). Nothing with PostgreSQL.
    events_ship(tenant=tenant)
    with transaction.atomic():  # one transaction (one commit) per tenant: roll-over, invoice, prorations
        # One statement locks the tenant and its license (in the order the license services use) and loads
        # what the invoice needs about the tenant.
        # It also says whether the tenant has a support subscription or discounts, so that the many tenants
        # without either cost no further statement for them.
        from payments.models import Discount

        license = (
            License.objects.select_for_update(of=("self", "tenant"))
            .select_related("tenant", "plan", "tenant__payment_settings", "tenant__payment_administrator")
            .annotate(
                has_support=Exists(SupportSubscription.objects.filter(tenant_id=OuterRef("tenant_id"))),
                has_discounts=Exists(Discount.objects.filter(tenant_id=OuterRef("tenant_id"))),
            )
            .get(tenant_id=tenant.pk)
        )
        tenant = license.tenant
        existing = Invoice.objects.filter(source_key=monthly_source_key(tenant, year, month)).first()
        if existing is not None:
            return existing
        licenses_roll_over(tenant=tenant, at=start, license=license)
        support_plan = support_billed_for(tenant=tenant, period_start=start) if license.has_support else None
        pending = list(
            ProrationItem.objects.select_for_update(of=("self",))
            .select_related("plan_change__to_plan")
            .filter(
                tenant=tenant,
                status=ProrationItem.Status.PENDING,
                billing=ProrationItem.Billing.NEXT_INVOICE,
                created_at__lt=start,
            )
            .order_by("created_at", "pk")
        )
        new_plan, last_plan = plans_at(tenant=tenant, instants=[start, start - timedelta(microseconds=1)])
        lines = monthly_lines(
            tenant=tenant,
            year=year,
            month=month,
            new_plan=new_plan,
            last_plan=last_plan,
            pending=pending,
            support_plan=support_plan,
        )
        # Late authentication events of months already invoiced: labelled adjustment lines (payments/late_usage.py).
        last_year, last_month = previous_month(year, month)
        adjustments = late_usage.late_mau_adjustments(tenant=tenant, before=date(last_year, last_month, 1))
        lines += [adjustment["line"] for adjustment in adjustments]
        if not lines:
            return None
        invoice = invoice_issue(
            tenant=tenant,
            kind=Invoice.Kind.MONTHLY,
            source_key=monthly_source_key(tenant, year, month),
            lines=lines,
            billing_date=date(year, month, 1),
            period_start=start,
            period_end=end,
            payment_method=_payment_method(tenant),
            tenant_locked=True,
            charge_at=datetime(year, month, CHARGE_DAY, tzinfo=ZoneInfo(tenant.time_zone)),
            discount_plan=new_plan if license.has_discounts else None,
        )
        if pending:
            ProrationItem.objects.filter(pk__in=[item.pk for item in pending]).update(
                status=ProrationItem.Status.INVOICED
            )
        late_usage.record_monthly_invoice_usage(
            tenant=tenant,
            last_plan=last_plan,
            last_month=date(last_year, last_month, 1),
            lines=lines,
            adjustments=adjustments,
            source_key=invoice.source_key,
        )
        _email_invoice_issued_after_commit(invoice.pk)
    return invoice


def immediate_invoices_issue(*, tenant) -> list[Invoice]:
    """Invoice plan changes billed at once (purchase, always_invoice upgrades): one invoice per plan change,
    due for charging immediately."""
    invoices = []
    change_ids = (
        ProrationItem.objects.filter(
            tenant=tenant, status=ProrationItem.Status.PENDING, billing=ProrationItem.Billing.IMMEDIATE
        )
        .values_list("plan_change_id", flat=True)
        .distinct()
    )
    for change_id in sorted(set(change_ids)):
        with transaction.atomic():
            items = list(
                ProrationItem.objects.select_for_update(of=("self",))
                .select_related("plan_change__to_plan")
                .filter(
                    tenant=tenant,
                    plan_change_id=change_id,
                    status=ProrationItem.Status.PENDING,
                    billing=ProrationItem.Billing.IMMEDIATE,
                )
                .order_by("pk")
            )
            if not items:
                continue
            now = clock.now()
            change = items[0].plan_change
            invoice = invoice_issue(
                tenant=tenant,
                kind=Invoice.Kind.PRORATION,
                source_key=f"plan-change-{change_id}",
                lines=[
                    {
                        "description": item.description,
                        "amount": item.amount_minor,
                        "category": _category_of(change.to_plan),
                    }
                    for item in items
                ],
                billing_date=now.astimezone(ZoneInfo(tenant.time_zone)).date(),
                payment_method=_payment_method(tenant),
                charge_at=now,
                discount_plan=change.to_plan,
                discount_fraction=_period_fraction(change),
            )
            ProrationItem.objects.filter(pk__in=[item.pk for item in items]).update(
                status=ProrationItem.Status.INVOICED
            )
            _email_invoice_issued_after_commit(invoice.pk)
            invoices.append(invoice)
    return invoices


def _period_fraction(change):
    """The part of the period a plan change's invoice covers (its remaining line over the plan's price)."""
    from decimal import Decimal

    from licenses.pricing import plan_fixed_amount

    price = plan_fixed_amount(change.to_plan)
    return Decimal(change.remaining_amount) / Decimal(price) if price else None


def tenants_to_invoice(*, at, with_month: bool = False) -> list:
    """Tenants whose current month (in their time zone) has begun and has no monthly invoice yet, and that had
    or have a paid license or have prorations waiting (`with_month`: [(tenant id, year, month)])."""
    candidates = (
        Tenant.objects.filter(
            Q(license__plan__license_type__in=["starter", "business", "enterprise"])
            | Q(plan_changes__isnull=False)
            | Q(proration_items__status=ProrationItem.Status.PENDING)
        )
        .filter(test_clock__isnull=True)
        .distinct()
        .only("pk", "time_zone")
    )  # test tenants: their test clock
    due = _due(candidates.values_list("pk", "time_zone"), at=at)
    return due if with_month else [tenant_id for tenant_id, _year, _month in due]


def monthly_invoices_due(*, at) -> dict[tuple[int, int], list[int]]:
    """`tenants_to_invoice` grouped by the (year, month) each is due for (tenants' time zones differ)."""
    due: dict[tuple[int, int], list[int]] = {}
    for tenant_id, year, month in tenants_to_invoice(at=at, with_month=True):
        due.setdefault((year, month), []).append(tenant_id)
    return due


def _due(tenants, *, at) -> list[tuple[int, int, int]]:
    """[(tenant id, year, month)] of these (tenant id, time zone) pairs whose monthly invoice for the month
    containing `at` (less the late-events grace, in their time zone) does not exist: one query per 5,000."""
    wanted = []
    for tenant_id, time_zone in tenants:
        local = (at - late_usage.grace()).astimezone(ZoneInfo(time_zone))  # grace for late events
        wanted.append((tenant_id, local.year, local.month))
    due = []
    for i in range(0, len(wanted), 5_000):
        part = wanted[i : i + 5_000]
        keys = [monthly_source_key_of(*item) for item in part]
        done = set(Invoice.objects.filter(source_key__in=keys).values_list("source_key", flat=True))
        due += [item for item, key in zip(part, keys, strict=True) if key not in done]
    return due
