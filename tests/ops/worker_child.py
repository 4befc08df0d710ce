"""A real Celery worker on the test database (CRASH_DB_NAME) consuming WORKER_QUEUE, for the test-clock test."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.DATABASES["default"]["NAME"] = os.environ["CRASH_DB_NAME"]

from billing_portal.celery import app  # noqa: E402

app.worker_main(
    [
        "worker",
        "--pool",
        "solo",
        "-Q",
        os.environ["WORKER_QUEUE"],
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "WARNING",
    ]
)
