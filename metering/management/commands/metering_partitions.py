"""`python manage.py metering_partitions [--maintain]`: the raw authentication events' monthly partitions.

Lists each partition (month in UTC, PostgreSQL's row estimate, size) and which ones retention will drop;
`--maintain` does what the hourly beat task does first (create the coming months, drop the expired ones).
"""

from django.core.management.base import BaseCommand

from metering import partitions


class Command(BaseCommand):
    help = "List the raw authentication events' monthly partitions (row estimates), or maintain them now."

    def add_arguments(self, parser):
        parser.add_argument(
            "--maintain", action="store_true", help="create the coming months' partitions, drop expired ones"
        )

    def handle(self, *args, **options):
        if options["maintain"]:
            result = partitions.partitions_maintain()
            self.stdout.write(f"created: {', '.join(result['created']) or '-'}")
            self.stdout.write(f"dropped: {', '.join(result['dropped']) or '-'}")
        cutoff = partitions.oldest_kept_month()
        rows = partitions.partitions_list()
        self.stdout.write(
            f"{partitions.PARENT}: {len(rows)} partitions; retention "
            f"{partitions.retention_months()} months (kept from {cutoff:%Y-%m})"
        )
        self.stdout.write(f"{'partition':<32} {'month':<8} {'rows (estimate)':>16} {'size':>10}")
        for p in rows:
            note = "  (expired: dropped by the next tick)" if p.month < cutoff else ""
            self.stdout.write(
                f"{p.name:<32} {p.month:%Y-%m}  {p.rows_estimate:>16,} {p.bytes / 1024 / 1024:>8.1f}MB{note}"
            )
