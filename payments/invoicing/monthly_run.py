"""The set-based monthly invoice run (writes): the invoices of many tenants for one (year, month) in a few
statements per batch of tenants instead of ~16 per tenant, for the common case.

The common case is a tenant whose license renews plainly (or was renewed already), with no support
subscription, no discount, no pending plan reservation, a plan without metered units (MAU overage is fine) and no
late events in months already invoiced. Its prorations waiting for the invoice and its credits are handled here
too. Every other tenant (and a batch that meets a conflict) goes through the per-tenant service
`cycle.monthly_invoice_issue`, unchanged.

There are no second pricing rules here: lines come from `cycle.monthly_lines` (licenses.pricing), totals from
`documents.invoice_totals` (compute_totals: credits, tax, rounding in billing_portal.common.money), the invoice
row from `documents.invoice_build`, credit order from `credits.credits_ordered`, renewal from
`licenses.services.license_renew`, the plan history from `cycle.plan_ids_at` and the MAU freeze from
`late_usage.monthly_usage_rows` — the functions the per-tenant path calls.

The guarantees are the per-tenant path's: per batch, one transaction locks every tenant's license and tenant
rows (in tenant order, as one statement), checks again which invoices exist, takes the batch's numbers from the
per-tenant-and-year sequence rows in one `INSERT … ON CONFLICT DO UPDATE … RETURNING` (the rows stay locked
until commit, a rollback returns every number: gap-free), and inserts; the unique `source_key` and
(tenant, period) constraints still make a second invoice impossible.
"""

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone

from accounts.audit import audit_record_many
from accounts.models import Tenant
from billing_portal.common import clock
from billing_portal.common.bulk import copy_insert
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.queue import enqueue_on_commit
from licenses.models import License, Plan, PlanChange, PlanReservation, ProrationItem, SupportSubscription
from licenses.services import license_renew
from metering import event_store
from metering.event_outbox import events_ship
from metering.models import MauBilled
from metering.selectors import mau_of_tenants
from payments.events import invoice_event
from payments.invoicing import cycle, late_usage
from payments.invoicing.credits import credits_ordered, credits_usable
from payments.invoicing.documents import (
    _next_numbers,
    invoice_audit_data,
    invoice_build,
    invoice_lines_build,
    invoice_totals,
)
from payments.invoicing.tasks import archive_documents, send_invoice_issued_emails
from payments.models import ArchivedDocument, Credit, CreditApplication, Discount, Invoice

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def monthly_invoices_run(*, tenant_ids, year: int, month: int, batch_size: int = BATCH_SIZE) -> dict:
    """Issue the monthly invoices of (year, month) for these tenants (idempotent, like
    `cycle.monthly_invoice_issue` for each). Returns counts: issued (set-based), per_tenant (issued or looked at
    by the per-tenant service), existing (already issued), nothing (nothing to bill), failed (logged)."""
    report = {"issued": 0, "per_tenant": 0, "existing": 0, "nothing": 0, "failed": 0}
    ids = sorted(set(tenant_ids))
    for i in range(0, len(ids), batch_size):
        _run_batch(ids[i : i + batch_size], year=year, month=month, report=report)
    return report


def _run_batch(ids: list[int], *, year: int, month: int, report: dict) -> None:
    keys = {tenant_id: cycle.monthly_source_key_of(tenant_id, year, month) for tenant_id in ids}
    done = set(Invoice.objects.filter(source_key__in=keys.values()).values_list("source_key", flat=True))
    todo = [tenant_id for tenant_id in ids if keys[tenant_id] not in done]
    report["existing"] += len(ids) - len(todo)
    if not todo:
        return
    if event_store.current().uses_outbox:
        # ClickHouse: each tenant's accepted events are shipped before its MAU is read (as monthly_invoice_issue).
        for tenant_id in todo:
            events_ship(tenant=Tenant(pk=tenant_id))
    try:
        with transaction.atomic():
            slow = _issue_batch(todo, keys=keys, year=year, month=month, report=report)
    except IntegrityError:
        # Another run got there first in a way the locks did not show: every tenant of the batch per tenant.
        logger.warning("Set-based invoice batch of %s tenants conflicted; issuing per tenant.", len(todo))
        slow = [(tenant_id, None) for tenant_id in todo]
    for tenant_id, tenant in slow:
        try:
            invoice = cycle.monthly_invoice_issue(
                tenant=tenant or Tenant.objects.get(pk=tenant_id), year=year, month=month
            )
        except Exception:
            logger.exception("Monthly invoice of tenant %s for %04d-%02d failed.", tenant_id, year, month)
            report["failed"] += 1
            continue
        report["per_tenant" if invoice is not None else "nothing"] += 1


def _issue_batch(todo: list[int], *, keys: dict, year: int, month: int, report: dict) -> list:
    """Inside the batch's transaction. Returns [(tenant id, tenant or None)] for the per-tenant path."""
    licenses = list(
        License.objects.select_for_update(of=("self", "tenant"))
        .select_related("tenant", "plan", "tenant__payment_settings", "tenant__payment_administrator")
        .annotate(
            has_support=Exists(SupportSubscription.objects.filter(tenant_id=OuterRef("tenant_id"))),
            has_discounts=Exists(Discount.objects.filter(tenant_id=OuterRef("tenant_id"))),
        )
        .filter(tenant_id__in=todo)
        .order_by("tenant_id")
    )
    by_tenant = {license.tenant_id: license for license in licenses}
    slow = [(tenant_id, None) for tenant_id in todo if tenant_id not in by_tenant]
    done = set(
        Invoice.objects.filter(source_key__in=[keys[t] for t in by_tenant]).values_list(
            "source_key", flat=True
        )
    )  # again, under the locks
    report["existing"] += sum(1 for t in by_tenant if keys[t] in done)
    licenses = [license for license in licenses if keys[license.tenant_id] not in done]
    if not licenses:
        return slow
    ids = [license.tenant_id for license in licenses]
    last_year, last_month = cycle.previous_month(year, month)
    last_first = date(last_year, last_month, 1)
    reserved = set(
        PlanReservation.objects.filter(tenant_id__in=ids, status=PlanReservation.Status.PENDING).values_list(
            "tenant_id", flat=True
        )
    )
    changes: dict[int, list] = {}
    for tenant_id, *change in (
        PlanChange.objects.filter(tenant_id__in=ids, to_plan__category=Plan.Category.LICENSE)
        .order_by("tenant_id", "effective_at", "pk")
        .values_list("tenant_id", "effective_at", "from_plan_id", "to_plan_id")
    ):
        changes.setdefault(tenant_id, []).append(tuple(change))
    billed: dict[int, dict] = {}  # months already invoiced: {tenant: {month: largest MAU billed}}
    for tenant_id, billed_month, mau_billed in (
        MauBilled.objects.filter(tenant_id__in=ids, month__lt=last_first)
        .values("tenant_id", "month")
        .annotate(mau=Max("mau_billed"))
        .values_list("tenant_id", "month", "mau")
    ):
        billed.setdefault(tenant_id, {})[billed_month] = mau_billed

    # First pass: what each tenant needs; anything unusual goes per tenant.
    candidates = []
    for license in licenses:
        tenant = license.tenant
        start, end = clock.month_bounds(year, month, tenant.time_zone)
        if license.has_support or license.has_discounts or tenant.pk in reserved:
            slow.append((tenant.pk, tenant))
            continue
        renewed = False
        if license.current_period_end is not None and license.current_period_end <= start:
            if not license.auto_renew:  # falls back to Free: licenses_roll_over
                slow.append((tenant.pk, tenant))
                continue
            while license.current_period_end <= start:
                license_renew(license, tenant=tenant, boundary=license.current_period_end)
            renewed = True
        new_id, last_id = cycle.plan_ids_at(
            changes=changes.get(tenant.pk, []),
            instants=[start, start - timedelta(microseconds=1)],
            license_plan_id=license.plan_id,
        )
        new_plan, last_plan = cycle.priced_plan(new_id), cycle.priced_plan(last_id)
        metered_units, has_overage = cycle.usage_needed(last_plan)
        if metered_units:  # meter usage is read per tenant
            slow.append((tenant.pk, tenant))
            continue
        candidates.append((license, tenant, start, end, renewed, new_plan, last_plan, has_overage))

    mau_pairs = [(c[1], last_first) for c in candidates if c[7]]
    mau_pairs += [(c[1], m) for c in candidates for m in billed.get(c[1].pk, {})]
    mau = mau_of_tenants(tenant_months=mau_pairs)
    late = {
        c[1].pk
        for c in candidates
        if any(mau.get((c[1].pk, m), 0) > billed_mau for m, billed_mau in billed.get(c[1].pk, {}).items())
    }  # a billed month's MAU grew since: its adjustment line is computed per tenant (late_usage)

    fast = [c for c in candidates if c[1].pk not in late]
    slow += [(c[1].pk, c[1]) for c in candidates if c[1].pk in late]
    fast_ids = [c[1].pk for c in fast]
    now = clock.now()
    pending: dict[int, list] = {}
    for item in (
        ProrationItem.objects.select_for_update(of=("self",))
        .select_related("plan_change__to_plan")
        .filter(
            tenant_id__in=fast_ids,
            status=ProrationItem.Status.PENDING,
            billing=ProrationItem.Billing.NEXT_INVOICE,
        )
        .order_by("tenant_id", "created_at", "pk")
    ):
        pending.setdefault(item.tenant_id, []).append(item)
    credits: dict[int, list] = {}
    for credit in (
        Credit.objects.select_for_update()
        .filter(tenant_id__in=fast_ids, amount_used__lt=F("amount_charged"))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    ):
        credits.setdefault(credit.tenant_id, []).append(credit)

    # Second pass: lines and totals through the per-tenant path's functions.
    issues, renewals, invoiced_items = [], [], []
    for license, tenant, start, end, renewed, new_plan, last_plan, has_overage in fast:
        items = [item for item in pending.get(tenant.pk, []) if item.created_at < start]
        last_mau = mau.get((tenant.pk, last_first), 0) if has_overage else 0
        lines = cycle.monthly_lines(
            tenant=tenant,
            year=year,
            month=month,
            new_plan=new_plan,
            last_plan=last_plan,
            pending=items,
            usage={},
            mau=last_mau,
        )
        if not lines:
            report["nothing"] += 1
            renewals += [license] if renewed else []
            continue
        usable = credits_ordered(
            [c for c in credits.get(tenant.pk, []) if credits_usable(c, currency=tenant.currency, at=now)]
        )
        try:
            rate, totals = invoice_totals(lines=lines, credits=usable)
        except (
            ApplicationError
        ):  # e.g. a negative invoice: the per-tenant path raises it for this tenant only
            slow.append((tenant.pk, tenant))
            continue
        renewals += [license] if renewed else []
        invoiced_items += items
        issues.append((tenant, start, end, lines, rate, totals, last_plan, last_mau))

    if (
        renewals
    ):  # what license.save() in licenses_roll_over writes, for every renewed license in one statement
        _execute(
            f"UPDATE {License._meta.db_table} AS l SET current_period_start = v.s, current_period_end = v.e, "  # noqa: S608
            "billed_plan_id = v.b, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::bigint[]) AS v(id, s, e, b) "
            "WHERE l.id = v.id",
            [
                timezone.now(),
                [license.pk for license in renewals],
                [license.current_period_start for license in renewals],
                [license.current_period_end for license in renewals],
                [license.billed_plan_id for license in renewals],
            ],
        )
    if not issues:
        return slow
    billing_date = date(year, month, 1)
    numbers = _next_numbers(tenant_ids=[tenant.pk for tenant, *_rest in issues], year=billing_date.year)
    invoices = [
        invoice_build(
            tenant=tenant,
            kind=Invoice.Kind.MONTHLY,
            source_key=keys[tenant.pk],
            number=numbers[tenant.pk],
            totals=totals,
            rate=rate,
            billing_date=billing_date,
            period_start=start,
            period_end=end,
            payment_method=cycle._payment_method(tenant),
            charge_at=datetime(year, month, cycle.CHARGE_DAY, tzinfo=ZoneInfo(tenant.time_zone)),
            now=now,
        )
        for tenant, start, end, lines, rate, totals, _last_plan, _mau in issues
    ]
    copy_insert(invoices, with_ids=True)
    copy_insert(
        [
            line
            for invoice, (_t, _s, _e, lines, *_rest) in zip(invoices, issues, strict=True)
            for line in invoice_lines_build(invoice, lines)
        ]
    )
    applications, used = [], {}
    for invoice, (*_head, totals, _last_plan, _mau) in zip(invoices, issues, strict=True):
        for credit, amount in totals.allocations:
            applications.append(CreditApplication(invoice=invoice, credit=credit, amount=amount))
            used[credit.pk] = used.get(credit.pk, 0) + amount
    if applications:
        copy_insert(applications)
        _execute(
            f"UPDATE {Credit._meta.db_table} AS c SET amount_used = c.amount_used + v.a "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, a) WHERE c.id = v.id",
            [list(used), list(used.values())],
        )
    if invoiced_items:
        ProrationItem.objects.filter(pk__in=[item.pk for item in invoiced_items]).update(
            status=ProrationItem.Status.INVOICED
        )
    frozen = [
        MauBilled(
            tenant=tenant,
            invoice_source_key=invoice.source_key,
            mau_billed=row["mau"],
            overage_billed=row["overage"],
            month=row["month"],
            created_at=now,
        )
        for invoice, (tenant, _s, _e, lines, _r, _t, last_plan, last_mau) in zip(
            invoices, issues, strict=True
        )
        for row in late_usage.monthly_usage_rows(
            last_plan=last_plan,
            last_month=last_first,
            lines=lines,
            adjustments=[],
            mau=lambda last_mau=last_mau: last_mau,
        )
    ]
    MauBilled.objects.bulk_create(frozen, ignore_conflicts=True)
    audit_record_many(
        action="invoice.issued",
        entries=[(invoice.tenant, invoice_audit_data(invoice)) for invoice in invoices],
    )
    for invoice in invoices:
        invoice_event("invoice.issued", invoice)
    enqueue_on_commit(send_invoice_issued_emails, [invoice.pk for invoice in invoices])
    # 電子帳簿保存法: every invoice stored as issued, and the receipt of one paid at issue (nothing to pay).
    enqueue_on_commit(
        archive_documents, [invoice.pk for invoice in invoices], str(ArchivedDocument.Kind.INVOICE)
    )
    paid = [invoice.pk for invoice in invoices if invoice.status == Invoice.Status.SUCCESSFUL]
    if paid:
        enqueue_on_commit(archive_documents, paid, str(ArchivedDocument.Kind.RECEIPT))
    report["issued"] += len(invoices)
    return slow


def _execute(sql: str, params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
