"""`make bench` (invoicing part): time to issue the monthly invoices of BENCH_INVOICE_TENANTS tenants (10,000).

Starts PostgreSQL/Redis like `make test` (database `billing_portal_bench_invoicing`, recreated each run), creates
the tenants on the Starter license with one pending proration each and a credit for every tenth, then runs the
set-based run (`payments.invoicing.monthly_run.monthly_invoices_run`, what the Celery tick queues per batch of
tenants) from BENCH_INVOICE_WORKERS processes (default: one per core), each on a contiguous range of tenants;
BENCH_INVOICE_PATH=per-tenant runs the per-tenant service (`cycle.monthly_invoice_issue`) instead. It checks one
invoice per tenant, gap-free numbers and the totals, and runs the cycle a second time to time the idempotent
re-run; wall time (process start-up included) and the workers' CPU time are printed.
Targets: under 10 s for 10,000 tenants, re-run under 2 s. BENCH_INVOICE_DATABASE names the (recreated) database.
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
PATH = os.environ.get(
    "BENCH_INVOICE_PATH", "set"
)  # set: payments.invoicing.monthly_run; per-tenant: the old loop
_CORES = os.cpu_count() or 2
WORKERS = int(os.environ.get("BENCH_INVOICE_WORKERS", str(_CORES if PATH == "set" else 2 * _CORES)))
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


PATH = os.environ.get(
    "BENCH_INVOICE_PATH", "set"
)  # set: payments.invoicing.monthly_run; per-tenant: the old loop


def _work(tenant_ids: list[int]) -> tuple[int, float, float, float]:
    """One worker: its tenants' invoices; returns (invoices issued, CPU seconds of this process, and wall and CPU
    seconds of the run itself, after Django's start-up)."""
    started = time.process_time()
    _django()
    from django.db import connection

    run_wall, run_cpu = time.perf_counter(), time.process_time()

    issued = 0
    if PATH == "per-tenant":
        from accounts.models import Tenant
        from payments.invoicing.cycle import monthly_invoice_issue

        for tenant in Tenant.objects.filter(pk__in=tenant_ids).order_by("pk"):
            if monthly_invoice_issue(tenant=tenant, year=2026, month=4) is not None:
                issued += 1
    else:
        from payments.invoicing.monthly_run import monthly_invoices_run

        report = monthly_invoices_run(tenant_ids=tenant_ids, year=2026, month=4)
        issued = report["issued"] + report["per_tenant"]
    run_wall, run_cpu = time.perf_counter() - run_wall, time.process_time() - run_cpu
    connection.close()
    return issued, time.process_time() - started, run_wall, run_cpu


def run_cycle(ids: list[int]) -> tuple[float, int, float, float, float]:
    """(wall seconds, invoices issued, CPU seconds of the workers). Set-based: contiguous ranges of tenants per
    worker (each locks its own); per-tenant: interleaved, as the Celery fan-out would spread them."""
    if PATH == "per-tenant":
        chunks = [ids[i::WORKERS] for i in range(WORKERS)]
    else:
        size = -(-len(ids) // WORKERS)
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    started = time.perf_counter()
    with mp.get_context("spawn").Pool(len(chunks)) as pool:
        results = pool.map(_work, chunks)
    return (
        time.perf_counter() - started,
        sum(r[0] for r in results),
        sum(r[1] for r in results),
        max(r[2] for r in results),
        sum(r[3] for r in results),
    )


def rerun_in_process(ids: list[int]) -> tuple[float, float, int]:
    """The idempotent re-run as the hourly tick does it, in a running process: which tenants are due, then the
    run over all of them (wall s, CPU s, invoices issued)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from payments.invoicing.cycle import tenants_to_invoice
    from payments.invoicing.monthly_run import monthly_invoices_run

    wall, cpu = time.perf_counter(), time.process_time()
    due = tenants_to_invoice(at=datetime(2026, 4, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo")))
    report = monthly_invoices_run(tenant_ids=ids, year=2026, month=4)
    issued = report["issued"] + report["per_tenant"] + len(due)
    return time.perf_counter() - wall, time.process_time() - cpu, issued


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
    seconds, issued, cpu, run_seconds, run_cpu = run_cycle(ids)
    if PATH == "set":
        again, again_cpu, reissued = rerun_in_process(ids)
    else:
        again, reissued, again_cpu, _run, _cpu = run_cycle(ids)
    stats = Invoice.objects.aggregate(
        n=Count("pk"), total=Sum("payment_amount"), credit=Sum("credit_applied")
    )
    per_tenant = Invoice.objects.values("tenant").annotate(n=Count("pk")).filter(n__gt=1).count()
    # Every tenant: Starter ¥25,000 + MAU overage ¥0 + proration ¥968; every tenth has ¥1,000 credit; tax 10%.
    credited = len(ids[::10])
    expected_total = (len(ids) - credited) * 28_565 + credited * 27_465
    ok = (
        stats["n"] == len(ids) == issued
        and reissued == 0
        and per_tenant == 0
        and stats["total"] == expected_total
        and _numbers_gap_free()
    )
    print("\n=== invoicing benchmark ===")
    print(
        f"path                    {PATH} ({'payments.invoicing.monthly_run' if PATH == 'set' else 'per tenant'})"
    )
    print(f"tenants invoiced        {issued:,} with {WORKERS} worker process(es)")
    print(
        f"first run               {seconds:.1f} s wall with process start-up, {cpu:.1f} s CPU in the workers  "
        f"({issued / seconds:,.0f} invoices/s)   target < 10 s: {'met' if seconds < 10 else 'NOT met'}"
    )
    print(
        f"  of which the run      {run_seconds:.1f} s wall (slowest worker), {run_cpu:.1f} s CPU  "
        f"({issued / run_seconds:,.0f} invoices/s)"
    )
    print(
        f"idempotent re-run       {again:.2f} s wall, {again_cpu:.2f} s CPU  (new invoices: {reissued}; "
        f"{'in this process, as the tick' if PATH == 'set' else 'worker processes'})   "
        f"target < 2 s: {'met' if again < 2 else 'NOT met'}"
    )
    print(f"load average            {', '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores; shared box)")
    if os.environ.get("BENCH_WEBHOOK_ENDPOINT"):
        from ops.models import WebhookDelivery

        print(f"webhook deliveries      {WebhookDelivery.objects.count():,} written to the outbox")
    print(
        f"exact totals            {'yes' if ok else 'NO'} (sum of payment amounts ¥{stats['total']:,}, "
        f"expected ¥{expected_total:,})"
    )
    return 0 if ok else 1


def _numbers_gap_free() -> bool:
    """Every tenant's numbers of the year are 1..n."""
    from django.db.models import Count, Max

    from payments.models import Invoice

    rows = Invoice.objects.values("tenant").annotate(n=Count("pk"), top=Max("number"))
    return all(row["top"] == f"2026-{row['n']:05d}" for row in rows)


if __name__ == "__main__":
    sys.exit(main())
