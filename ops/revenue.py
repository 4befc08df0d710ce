"""The revenue dashboard's figures (reads). Never summed across currencies; test tenants (with a test clock)
left out.

- MRR per currency at the end of each month, from the plan history (`PlanChange`, else the license): the fixed
  fee of the license plan in effect (a yearly plan counts a twelfth, rounded once) plus that of the support plan
  in effect (until a cancelled one ends); ARR = 12 × MRR.
- Movements per month, tenant by tenant, comparing its MRR at the end of the month with the end of the month
  before: new (from 0), expansion (up), contraction (down, still paid), churned (to 0).
- From issued invoices: MAU overage revenue (the "MAU overage" lines, by billing month), failed payment attempts
  and their amount (by the month they failed), invoices currently failed, open bank-transfer invoices with their
  age, and credit outstanding (unused, unexpired).
Each figure carries the ids of the invoices behind it (credits: the credits), for the admin links.
"""

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F, Q
from django.utils.translation import gettext_noop

from accounts.models import Tenant
from billing_portal.common import clock
from billing_portal.common.money import prorate
from licenses.models import License, Plan, PlanChange, SupportSubscription
from licenses.pricing import plan_fixed_amount
from payments.models import Credit, Invoice, InvoiceLine, Payment

MAU_OVERAGE_PREFIX = "MAU overage"


def real_tenants():
    """Every tenant except test tenants (those bound to a test clock)."""
    return Tenant.objects.filter(test_clock__isnull=True)


def months_back(count: int, *, today: date) -> list[tuple[int, int]]:
    year, month = today.year, today.month
    months = []
    for _ in range(count):
        months.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


def plan_mrr(plan) -> int:
    if plan is None or plan.category != Plan.Category.LICENSE or plan.is_free:
        return 0
    amount = plan_fixed_amount(plan)
    return prorate(amount, 1, 12) if plan.interval == Plan.Interval.YEAR else amount


class _History:
    """Each real tenant's plan over time, loaded in three queries."""

    def __init__(self):
        self.tenants = {t.pk: t for t in real_tenants().only("pk", "time_zone", "currency", "name", "slug")}
        self.changes = defaultdict(list)
        # License plans only: support plans have their own subscriptions (licenses.support); not in MRR yet.
        for change in (
            PlanChange.objects.filter(tenant_id__in=self.tenants, to_plan__category=Plan.Category.LICENSE)
            .order_by("effective_at", "pk")
            .values("tenant_id", "effective_at", "from_plan_id", "to_plan_id")
        ):
            self.changes[change["tenant_id"]].append(change)
        self.licenses = {
            row["tenant_id"]: row
            for row in License.objects.filter(tenant_id__in=self.tenants).values(
                "tenant_id", "plan_id", "started_at"
            )
        }
        plan_ids = {row["plan_id"] for row in self.licenses.values()} | {
            pid
            for changes in self.changes.values()
            for c in changes
            for pid in (c["from_plan_id"], c["to_plan_id"])
        }
        # Support plans: their own history (changes to a support plan) and the end of a cancelled subscription.
        self.support_changes = defaultdict(list)
        for change in (
            PlanChange.objects.filter(tenant_id__in=self.tenants, to_plan__category=Plan.Category.SUPPORT)
            .order_by("effective_at", "pk")
            .values("tenant_id", "effective_at", "to_plan_id")
        ):
            self.support_changes[change["tenant_id"]].append(change)
            plan_ids.add(change["to_plan_id"])
        self.support_ended = dict(
            SupportSubscription.objects.filter(
                tenant_id__in=self.tenants, status=SupportSubscription.Status.ENDED
            ).values_list("tenant_id", "ended_at")
        )
        self.plans = {p.pk: p for p in Plan.objects.filter(pk__in=plan_ids).prefetch_related("menus__units")}
        self._mrr = {pk: plan_mrr(plan) for pk, plan in self.plans.items()}
        self._support_mrr = {
            pk: plan_fixed_amount(plan)
            for pk, plan in self.plans.items()
            if plan.category == Plan.Category.SUPPORT
        }

    def plan_id_at(self, tenant_id, at):
        changes = self.changes.get(tenant_id)
        if changes:
            before = [c["to_plan_id"] for c in changes if c["effective_at"] <= at]
            return before[-1] if before else changes[0]["from_plan_id"]
        license = self.licenses.get(tenant_id)
        if license is None or license["started_at"] > at:
            return None
        return license["plan_id"]

    def mrr_at(self, tenant_id, at) -> int:
        """License plus support plan MRR at `at`."""
        plan_id = self.plan_id_at(tenant_id, at)
        return (self._mrr.get(plan_id, 0) if plan_id else 0) + self.support_mrr_at(tenant_id, at)

    def support_mrr_at(self, tenant_id, at) -> int:
        before = [c["to_plan_id"] for c in self.support_changes.get(tenant_id, []) if c["effective_at"] <= at]
        ended = self.support_ended.get(tenant_id)
        if not before or (ended is not None and ended <= at):
            return 0
        return self._support_mrr.get(before[-1], 0)


def _month_end(tenant, year, month, now):
    """The last instant of (year, month) in the tenant's time zone, or now for the month in progress."""
    _start, end = clock.month_bounds(year, month, tenant.time_zone)
    return min(end - timedelta(microseconds=1), now)


def dashboard(*, months: int = 12, now: datetime | None = None) -> dict:
    now = now or clock.now()
    today = now.astimezone(ZoneInfo(settings.BILLING_TIME_ZONE)).date()
    month_list = months_back(months, today=today)
    history = _History()
    previous_month = months_back(months + 1, today=today)[0]

    # invoices per (tenant, month), for the links of the MRR figures
    invoice_ids = defaultdict(list)
    first_day = date(previous_month[0], previous_month[1], 1)
    for row in (
        Invoice.objects.filter(tenant_id__in=history.tenants, billing_date__gte=first_day)
        .exclude(kind=Invoice.Kind.CREDIT_NOTE)
        .values("pk", "tenant_id", "billing_date")
    ):
        invoice_ids[(row["tenant_id"], row["billing_date"].year, row["billing_date"].month)].append(row["pk"])

    mrr = defaultdict(lambda: defaultdict(lambda: {"amount": 0, "invoices": []}))
    movements = defaultdict(
        lambda: defaultdict(
            lambda: {
                kind: {"amount": 0, "tenants": 0, "invoices": []}
                for kind in ("new", "expansion", "contraction", "churned")
            }
        )
    )
    for tenant in history.tenants.values():
        py, pm = previous_month
        before = history.mrr_at(tenant.pk, _month_end(tenant, py, pm, now))
        for year, month in month_list:
            after = history.mrr_at(tenant.pk, _month_end(tenant, year, month, now))
            behind = invoice_ids.get((tenant.pk, year, month), [])
            label = f"{year:04d}-{month:02d}"
            if after:
                cell = mrr[tenant.currency][label]
                cell["amount"] += after
                cell["invoices"] += behind
            kind = None
            if before == 0 and after > 0:
                kind = "new"
            elif before > 0 and after == 0:
                kind = "churned"
            elif after > before:
                kind = "expansion"
            elif after < before:
                kind = "contraction"
            if kind:
                cell = movements[tenant.currency][label][kind]
                cell["amount"] += abs(after - before)
                cell["tenants"] += 1
                cell["invoices"] += behind
            before = after

    labels = [f"{y:04d}-{m:02d}" for y, m in month_list]
    currencies = sorted(set(mrr) | set(movements) | {t.currency for t in history.tenants.values()})
    by_currency = {}
    for currency in currencies:
        rows = []
        for label in labels:
            m = mrr[currency][label]
            mv = movements[currency][label]
            rows.append(
                {
                    "month": label,
                    "mrr": m["amount"],
                    "arr": m["amount"] * 12,
                    "invoices": m["invoices"],
                    **{kind: mv[kind] for kind in ("new", "expansion", "contraction", "churned")},
                }
            )
        by_currency[currency] = rows

    return {
        "labels": labels,
        "currencies": currencies,
        "mrr": by_currency,
        "paid_tenants_per_plan": _paid_tenants_per_plan(history, now, invoice_ids),
        "mau_overage": _mau_overage(month_list),
        "failed_payments": _failed_payments(month_list),
        "failed_invoices": _failed_invoices(),
        "open_bank_transfers": _open_bank_transfers(today),
        "credits_outstanding": _credits_outstanding(now),
    }


def _paid_tenants_per_plan(history, now, invoice_ids) -> list[dict]:
    """Tenants on each paid plan now; the invoices behind: theirs of this month."""
    rows = {}
    for tenant in history.tenants.values():
        plan_id = history.plan_id_at(tenant.pk, now)
        if not plan_id or not history._mrr.get(plan_id):
            continue
        plan = history.plans[plan_id]
        row = rows.setdefault(
            plan_id,
            {
                "plan": plan.name,
                "code": plan.code,
                "currency": plan.currency,
                "tenants": 0,
                "mrr": 0,
                "invoices": [],
            },
        )
        row["tenants"] += 1
        row["mrr"] += history._mrr[plan_id]
        local = now.astimezone(ZoneInfo(tenant.time_zone))
        row["invoices"] += invoice_ids.get((tenant.pk, local.year, local.month), [])
    return sorted(rows.values(), key=lambda r: (r["currency"], -r["mrr"], r["plan"]))


def _mau_overage(month_list) -> dict:
    first = date(month_list[0][0], month_list[0][1], 1)
    table = defaultdict(lambda: defaultdict(lambda: {"amount": 0, "invoices": []}))
    lines = (
        InvoiceLine.objects.filter(
            description__startswith=MAU_OVERAGE_PREFIX,
            invoice__billing_date__gte=first,
            invoice__tenant__test_clock__isnull=True,
        )
        .exclude(invoice__kind=Invoice.Kind.CREDIT_NOTE)
        .values("amount", "invoice_id", "invoice__currency", "invoice__billing_date")
    )
    for line in lines:
        day = line["invoice__billing_date"]
        cell = table[line["invoice__currency"]][f"{day.year:04d}-{day.month:02d}"]
        cell["amount"] += line["amount"]
        cell["invoices"].append(line["invoice_id"])
    return {currency: dict(months) for currency, months in table.items()}


def _failed_payments(month_list) -> dict:
    """Failed charge attempts, by the month (operator's time zone) they failed."""
    tz = ZoneInfo(settings.BILLING_TIME_ZONE)
    start = datetime(month_list[0][0], month_list[0][1], 1, tzinfo=tz)
    table = defaultdict(lambda: defaultdict(lambda: {"count": 0, "amount": 0, "invoices": []}))
    for payment in Payment.objects.filter(
        status=Payment.Status.FAILED, updated_at__gte=start, tenant__test_clock__isnull=True
    ).values("amount_minor", "currency", "invoice_id", "updated_at"):
        local = payment["updated_at"].astimezone(tz)
        cell = table[payment["currency"]][f"{local.year:04d}-{local.month:02d}"]
        cell["count"] += 1
        cell["amount"] += payment["amount_minor"]
        if payment["invoice_id"]:
            cell["invoices"].append(payment["invoice_id"])
    return {currency: dict(months) for currency, months in table.items()}


def _failed_invoices() -> dict:
    table = defaultdict(lambda: {"count": 0, "amount": 0, "invoices": []})
    for row in Invoice.objects.filter(status=Invoice.Status.FAILED, tenant__test_clock__isnull=True).values(
        "pk", "currency", "payment_amount"
    ):
        cell = table[row["currency"]]
        cell["count"] += 1
        cell["amount"] += row["payment_amount"]
        cell["invoices"].append(row["pk"])
    return dict(table)


# The labels are keys (data-age in the page); the page shows them translated.
AGE_BUCKETS = [
    (0, 30, gettext_noop("0–30 days")),
    (31, 60, gettext_noop("31–60 days")),
    (61, 90, gettext_noop("61–90 days")),
    (91, None, gettext_noop("over 90 days")),
]


def _open_bank_transfers(today: date) -> dict:
    table = defaultdict(
        lambda: {label: {"count": 0, "amount": 0, "invoices": []} for _a, _b, label in AGE_BUCKETS}
    )
    rows = []
    for invoice in (
        Invoice.objects.filter(
            payment_method=Invoice.PaymentMethod.BANK_TRANSFER,
            status=Invoice.Status.PENDING,
            payment_amount__gt=0,
            tenant__test_clock__isnull=True,
        )
        .select_related("tenant")
        .order_by("billing_date", "pk")
    ):
        age = (today - invoice.billing_date).days
        label = next(lbl for low, high, lbl in AGE_BUCKETS if age >= low and (high is None or age <= high))
        cell = table[invoice.currency][label]
        cell["count"] += 1
        cell["amount"] += invoice.payment_amount
        cell["invoices"].append(invoice.pk)
        rows.append({"invoice": invoice, "age_days": age})
    return {"buckets": {c: dict(b) for c, b in table.items()}, "invoices": rows}


def _credits_outstanding(now) -> dict:
    table = defaultdict(lambda: {"amount": 0, "credits": []})
    for row in (
        Credit.objects.filter(amount_used__lt=F("amount_charged"), tenant__test_clock__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values("pk", "currency", "amount_charged", "amount_used")
    ):
        cell = table[row["currency"]]
        cell["amount"] += row["amount_charged"] - row["amount_used"]
        cell["credits"].append(row["pk"])
    return dict(table)
