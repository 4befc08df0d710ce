"""Issue the monthly invoices of the month containing --date (default: today) for every tenant that needs one.

Idempotent: running it again, or beside the Celery beat task, returns the invoices already issued. Tenants go
through the set-based run (payments.invoicing.monthly_run) in batches, the unusual ones per tenant.
"""

import datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import Tenant
from payments.invoicing import monthly_run


class Command(BaseCommand):
    help = "Issue monthly invoices for the month of --date (YYYY-MM-DD), idempotently."

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            help="A day of the month to invoice (YYYY-MM-DD); default: today in each tenant's time zone.",
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args, date=None, no_progress=False, **options):
        from billing_portal.common import clock

        try:
            day = datetime.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"--date must be YYYY-MM-DD, not {date!r}.") from None
        tenants = list(Tenant.objects.order_by("pk").values_list("pk", "time_zone"))
        label = f"{day:%Y-%m}" if day else "the current month (each tenant's time zone)"
        by_month: dict[tuple[int, int], list[int]] = {}
        for tenant_id, time_zone in tenants:
            month = day or clock.today_in(time_zone)  # a Tokyo tenant's April begins at 15:00 UTC
            by_month.setdefault((month.year, month.month), []).append(tenant_id)
        issued = skipped = failed = 0
        with tqdm(total=len(tenants), desc=f"Invoicing {label}", unit="tenant", disable=no_progress) as bar:
            for (year, month), ids in sorted(by_month.items()):
                for i in range(0, len(ids), monthly_run.BATCH_SIZE):
                    batch = ids[i : i + monthly_run.BATCH_SIZE]
                    report = monthly_run.monthly_invoices_run(tenant_ids=batch, year=year, month=month)
                    issued += report["issued"] + report["per_tenant"] + report["existing"]
                    skipped += report["nothing"]
                    failed += report["failed"]
                    bar.update(len(batch))
        self.stdout.write(f"{issued} invoice(s) for {label}; {skipped} tenant(s) with nothing to bill.")
        if failed:
            raise CommandError(f"{failed} tenant(s) could not be invoiced; see the log.")
