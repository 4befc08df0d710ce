"""Compare local payment accounts, cards and payments with Stripe; report drift, repair it with --fix."""

from django.core.management.base import BaseCommand

from payments.charging import reconcile


class Command(BaseCommand):
    help = "Compare payment accounts, payment methods and payments with Stripe (--fix repairs local drift)."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="update the portal's copy to match Stripe")

    def handle(self, *args, fix=False, **options):
        report = reconcile.stripe_reconcile(fix=fix)
        for line in report["drift"]:
            self.stdout.write(("FIXED  " if fix else "DRIFT  ") + line)
        for line in report["errors"]:
            self.stderr.write("ERROR  " + line)
        self.stdout.write(
            f"Checked {report['accounts']} payment account(s), {report['payments']} payment(s): "
            f"{len(report['drift'])} difference(s){' fixed' if fix and report['drift'] else ''}, "
            f"{len(report['errors'])} error(s)."
        )
