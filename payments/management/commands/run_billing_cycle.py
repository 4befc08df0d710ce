"""Issue the monthly invoices of the month containing --date (default: today) for every tenant that needs one.

Idempotent: running it again, or beside the Celery beat task, returns the invoices already issued.
"""

import datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import Tenant
from payments.invoicing import cycle


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
        tenants = list(Tenant.objects.order_by("pk"))
        issued = skipped = 0
        label = f"{day:%Y-%m}" if day else "the current month (each tenant's time zone)"
        for tenant in tqdm(tenants, desc=f"Invoicing {label}", unit="tenant", disable=no_progress):
            month = day or clock.today_in(tenant.time_zone)  # a Tokyo tenant's April begins at 15:00 UTC
            invoice = cycle.monthly_invoice_issue(tenant=tenant, year=month.year, month=month.month)
            if invoice is None:
                skipped += 1
            else:
                issued += 1
        self.stdout.write(f"{issued} invoice(s) for {label}; {skipped} tenant(s) with nothing to bill.")
