"""A delivery worker in its own process, killed mid-delivery (the webhook crash test's victim).

Environment: CRASH_DB_NAME (the test database), DELIVERY_ID, CRASH_POINT: `before_request` (the attempt is
committed, the process dies before the request leaves) or `mid_request` (the parent SIGKILLs it while the
receiver holds the request). Prints "ready" once Django is set up.
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

from ops import webhook_delivery  # noqa: E402

if os.environ["CRASH_POINT"] == "before_request":

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    webhook_delivery.http_post = die

print("ready", flush=True)
print(webhook_delivery.deliver(delivery_id=int(os.environ["DELIVERY_ID"])), flush=True)
