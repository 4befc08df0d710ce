"""A task queued while a test clock is in scope runs on that clock in a real Celery worker (the message header)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from billing_portal.celery import app
from billing_portal.common import clock
from licenses.models import License
from licenses.tasks import licenses_roll_over_tenant
from ops.models import TestClock
from ops.test_clocks import test_clock_create
from tests.factories import UserFactory
from tests.licenses.conftest import add_payment_account, add_payment_method
from tests.ops.test_test_clocks import tokyo

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("worker_child.py")


@pytest.mark.django_db(transaction=True)
def test_a_task_queued_in_a_test_clocks_scope_runs_on_its_clock_in_the_worker():
    from licenses.selectors import plan_get
    from licenses.services import license_purchase

    test_clock = test_clock_create(
        owner=UserFactory(), name="Rehearsal K.K.", frozen_time=tokyo(2027, 1, 10, 9)
    )
    tenant = test_clock.tenant
    add_payment_account(tenant)
    add_payment_method(tenant)
    with clock.tenant_scope(tenant), pytest.MonkeyPatch.context() as patch:
        patch.setattr("billing_portal.common.queue.enqueue", lambda *a, **kw: True)  # no billing task here
        license_purchase(tenant=tenant, plan=plan_get(code="starter", currency="JPY"))
    TestClock.objects.filter(pk=test_clock.pk).update(frozen_time=tokyo(2027, 2, 2))  # the period has ended

    queue = f"test-clock-{os.getpid()}"
    env = {**os.environ, "CRASH_DB_NAME": connection.settings_dict["NAME"], "WORKER_QUEUE": queue}
    worker = subprocess.Popen(
        [sys.executable, str(CHILD)],
        env=env,
        cwd=ROOT,  # noqa: S603
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        eager = app.conf.task_always_eager
        app.conf.task_always_eager = False
        try:
            with clock.tenant_scope(tenant):
                licenses_roll_over_tenant.apply_async((tenant.pk,), queue=queue)
        finally:
            app.conf.task_always_eager = eager
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            license = License.objects.get(tenant=tenant)
            if license.current_period_start == tokyo(2027, 2, 1):
                break
            time.sleep(0.2)
        # Rolled over to February: the worker's clock.now() was the test clock's 2 Feb, not the real time.
        assert license.current_period_start == tokyo(2027, 2, 1)
    finally:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
