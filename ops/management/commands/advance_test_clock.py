from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from billing_portal.common.exceptions import ApplicationError
from ops.models import TestClock
from ops.test_clocks import advance_target, test_clock_advance


class Command(BaseCommand):
    help = (
        "Advance a test tenant's clock (to an ISO 8601 instant, or by --months / --days), running the "
        "roll-overs, invoices, charges and retries due on the way."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="the test tenant's slug")
        parser.add_argument("--to", help="e.g. 2027-05-01T00:00+09:00")
        parser.add_argument("--months", type=int, default=0)
        parser.add_argument("--days", type=int, default=0)

    def handle(self, *args, **options):
        test_clock = TestClock.objects.select_related("tenant").filter(tenant__slug=options["tenant"]).first()
        if test_clock is None:
            raise CommandError(f"{options['tenant']} is not a test tenant (it has no test clock).")
        to = None
        if options["to"]:
            to = datetime.fromisoformat(options["to"])
            if to.tzinfo is None:
                raise CommandError("--to needs a time zone offset, e.g. +09:00.")
        elif not (options["months"] or options["days"]):
            raise CommandError("Say how far: --to, --months or --days.")
        target = advance_target(
            test_clock.frozen_time,
            to=to,
            days=options["days"],
            months=options["months"],
            tz_name=test_clock.tenant.time_zone,
        )
        try:
            log = test_clock_advance(test_clock=test_clock, to=target)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        for at, report in log:
            done = {k: v for k, v in report.items() if v}
            if done:
                self.stdout.write(f"{at.isoformat()}  {done}")
        self.stdout.write(self.style.SUCCESS(f"{test_clock.tenant.slug} is now at {target.isoformat()}"))
