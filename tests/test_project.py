import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from accounts.models import Tenant


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    call_command("seed_demo")
    count = Tenant.objects.count()
    call_command("seed_demo")
    assert Tenant.objects.count() == count >= 4


def test_check_deploy_with_production_settings_reports_no_errors():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings.production",
        "DJANGO_SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-value-0123456789",
        "INVOICE_REGISTRATION_NUMBER": "T7123456789012",  # production sets the seller's (docs/japan.md)
        "DJANGO_ALLOWED_HOSTS": "billing.example.com",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readyz(client, db):
    assert client.get("/readyz").json()["ready"] is True
