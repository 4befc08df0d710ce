"""`make bench` (invoicing part): time to issue the monthly invoices of BENCH_INVOICE_TENANTS tenants (10,000).

Starts PostgreSQL/Redis like `make test` (database `billing_portal_bench_invoicing`, recreated each run), creates
the tenants on the Starter license with one pending proration each and a credit for every tenth, then runs the
real per-tenant service (`payments.invoicing.cycle.monthly_invoice_issue`, what the Celery fan-out task calls) from
BENCH_INVOICE_WORKERS processes, as Celery workers would. It then checks one invoice per tenant and the totals,
and runs the cycle a second time to time the idempotent re-run. Target: under 60 s for 10,000 tenants.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import devservices  # noqa: E402

TENANTS = int(os.environ.get("BENCH_INVOICE_TENANTS", "10000"))
WORKERS = int(os.environ.get("BENCH_INVOICE_WORKERS", str(2 * (os.cpu_count() or 2))))
DATABASE = os.environ.get("BENCH_INVOICE_DATABASE", "billing_portal_bench_invoicing")


def _django():
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_portal.settings.test"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"  # e-mails are queued for workers, as in production
    import django

    django.setup()


def _recreate_database(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    return urlunsplit(parts._replace(path="/" + DATABASE))  # the bench database, whatever DATABASE_URL named


def setup_data() -> None:
    """Bulk-create the tenants (set-up only: the timed part goes through the services)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.core.management import call_command

    from accounts.models import Membership, Role, Tenant, User
    from licenses.models import License, PlanChange, ProrationItem
    from licenses.selectors import free_plan_get, plan_get
    from payments.models import Credit

    call_command("migrate", verbosity=0)
    tz = ZoneInfo("Asia/Tokyo")
    start, end = datetime(2026, 3, 1, tzinfo=tz), datetime(2026, 4, 1, tzinfo=tz)
    starter, free = plan_get(code="starter", currency="JPY"), free_plan_get(currency="JPY")
    owner = User.objects.create_user(email="bench-owner@example.test", password=None)
    tenants = Tenant.objects.bulk_create(
        Tenant(
            slug=f"bench-inv-{i:05d}",
            name=f"Bench customer {i:05d}",
            currency="JPY",
            country="JP",
            time_zone="Asia/Tokyo",
            representative=owner,
            payment_administrator=owner,
        )
        for i in range(TENANTS)
    )
    Membership.objects.bulk_create(Membership(user=owner, tenant=t, role=Role.OWNER) for t in tenants)
    License.objects.bulk_create(
        License(tenant=t, plan=starter, started_at=start, current_period_start=start, current_period_end=end)
        for t in tenants
    )
    changes = PlanChange.objects.bulk_create(
        PlanChange(
            tenant=t,
            from_plan=free,
            to_plan=starter,
            kind=PlanChange.Kind.PURCHASE,
            effective_at=start,
            source=PlanChange.Source.SYSTEM,
            currency="JPY",
            created_at=start,
        )
        for t in tenants
    )
    ProrationItem.objects.bulk_create(
        ProrationItem(
            tenant=c.tenant,
            plan_change=c,
            description="Proration",
            amount_minor=968,
            currency="JPY",
            billing=ProrationItem.Billing.NEXT_INVOICE,
            created_at=start,
        )
        for c in changes
    )
    Credit.objects.bulk_create(
        Credit(
            tenant=t,
            name="Bench credit",
            source="manual",
            source_key=f"bench-{t.pk}",
            currency="JPY",
            amount_charged=1_000,
            registered_at=start,
        )
        for t in tenants[::10]
    )
    if os.environ.get(
        "BENCH_WEBHOOK_ENDPOINT"
    ):  # the outgoing-webhook outbox in the run: one event per invoice
        from ops.models import WebhookEndpoint

        WebhookEndpoint.objects.create(url="https://hooks.example.com/billing", events=["invoice.issued"])


def _work(tenant_ids: list[int]) -> int:
    _django()
    from django.db import connection

    from accounts.models import Tenant
    from payments.invoicing.cycle import monthly_invoice_issue

    issued = 0
    for tenant in Tenant.objects.filter(pk__in=tenant_ids).order_by("pk"):
        if monthly_invoice_issue(tenant=tenant, year=2026, month=4) is not None:
            issued += 1
    connection.close()
    return issued


def run_cycle(ids: list[int]) -> tuple[float, int]:
    chunks = [ids[i::WORKERS] for i in range(WORKERS)]
    started = time.perf_counter()
    with mp.get_context("spawn").Pool(WORKERS) as pool:
        issued = sum(pool.map(_work, chunks))
    return time.perf_counter() - started, issued


def main() -> int:
    env = devservices.service_environment(DATABASE)
    os.environ.update(env)
    env["DATABASE_URL"] = _recreate_database(env["DATABASE_URL"])
    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    _django()
    print(f"[bench] invoicing: setting up {TENANTS:,} tenants …", flush=True)
    t0 = time.perf_counter()
    setup_data()
    print(f"[bench] set-up took {time.perf_counter() - t0:.1f} s", flush=True)
    from django.db import connection
    from django.db.models import Count, Sum

    from accounts.models import Tenant
    from payments.models import Invoice

    ids = list(Tenant.objects.order_by("pk").values_list("pk", flat=True))
    connection.close()
    seconds, issued = run_cycle(ids)
    again, _ = run_cycle(ids)
    stats = Invoice.objects.aggregate(
        n=Count("pk"), total=Sum("payment_amount"), credit=Sum("credit_applied")
    )
    per_tenant = Invoice.objects.values("tenant").annotate(n=Count("pk")).filter(n__gt=1).count()
    # Every tenant: Starter ¥25,000 + MAU overage ¥0 + proration ¥968; every tenth has ¥1,000 credit; tax 10%.
    credited = len(ids[::10])
    expected_total = (len(ids) - credited) * 28_565 + credited * 27_465
    ok = stats["n"] == len(ids) == issued and per_tenant == 0 and stats["total"] == expected_total
    print("\n=== invoicing benchmark ===")
    print(f"tenants invoiced        {issued:,} with {WORKERS} worker process(es)")
    print(
        f"time to invoice         {seconds:.1f} s  ({issued / seconds:,.0f} invoices/s)   target < 60 s: "
        f"{'met' if seconds < 60 else 'NOT met'}"
    )
    print(f"idempotent re-run       {again:.1f} s  (no new invoices: {Invoice.objects.count() == len(ids)})")
    if os.environ.get("BENCH_WEBHOOK_ENDPOINT"):
        from ops.models import WebhookDelivery

        print(f"webhook deliveries      {WebhookDelivery.objects.count():,} written to the outbox")
    print(
        f"exact totals            {'yes' if ok else 'NO'} (sum of payment amounts ¥{stats['total']:,}, "
        f"expected ¥{expected_total:,})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
