"""A charge run in its own process that SIGKILLs itself at a chosen point (the crash test's victim).

Environment: CRASH_DB_NAME (the test database), CRASH_POINT (before_stripe | after_stripe | before_commit |
after_commit | none), CRASH_NTH (on which call). Prints "ready" once Django is set up, then runs
`manage.py charge_due_invoices`. With CRASH_POINT=none the parent kills it at a random moment instead.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.DATABASES["default"]["NAME"] = os.environ["CRASH_DB_NAME"]

from django.core.management import call_command  # noqa: E402

from payments.charging import charge as charging  # noqa: E402
from payments.charging import gateway as stripe_gateway  # noqa: E402

POINT = os.environ.get("CRASH_POINT", "none")
NTH = int(os.environ.get("CRASH_NTH", "1"))
_calls = [0]


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(module, name, *, before: bool):
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        _calls[0] += 1
        if before and _calls[0] == NTH:
            die()
        result = real(*args, **kwargs)
        if not before and _calls[0] == NTH:
            die()
        return result

    setattr(module, name, wrapper)


if POINT == "before_stripe":  # the attempt is committed, Stripe never hears of it
    wrap(stripe_gateway, "charge_off_session", before=True)
elif POINT == "after_stripe":  # Stripe charged the card, the answer is lost
    wrap(stripe_gateway, "charge_off_session", before=False)
elif POINT == "before_commit":  # the outcome and the paid invoice are written but not committed
    wrap(charging, "_mark_paid", before=False)
elif POINT == "after_commit":  # committed; the thank-you e-mail never goes out
    wrap(charging, "notify_payment_succeeded", before=True)

print("ready", flush=True)
call_command("charge_due_invoices", "--no-progress")
