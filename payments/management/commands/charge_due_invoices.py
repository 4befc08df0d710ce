"""Charge every card invoice due by the end of --date (default: now): the 5th's charges and the retries.

Idempotent: an invoice already paid is skipped, an attempt already made is not made again.
"""

import datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from billing_portal.common import clock
from payments.charging import charge


class Command(BaseCommand):
    help = "Charge card invoices due by the end of --date (YYYY-MM-DD), idempotently."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Charge what is due by the end of this day (UTC); default now.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args, date=None, no_progress=False, **options):
        if date:
            try:
                day = datetime.date.fromisoformat(date)
            except ValueError:
                raise CommandError(f"--date must be YYYY-MM-DD, not {date!r}.") from None
            at = datetime.datetime.combine(day, datetime.time.max, tzinfo=datetime.UTC)
        else:
            at = clock.now()
        outcomes = charge.invoices_charge_due(
            at=at,
            progress=lambda invoices: tqdm(invoices, desc="Charging", unit="invoice", disable=no_progress),
        )
        summary = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items())) or "nothing due"
        self.stdout.write(f"Charged invoices due by {at:%Y-%m-%d %H:%M} UTC: {summary}.")
