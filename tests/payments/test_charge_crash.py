"""Fault injection: a charging process is SIGKILLed at random points (webhooks are dropped: the stand-in has
no webhook endpoint registered). After one sweeper run: no invoice charged twice, none charged but unpaid,
none stuck."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from payments.charging.sweep import payments_sweep
from payments.models import Invoice, Payment
from tests.payments.factories import charges_per_invoice
from tests.payments.test_exactly_once import due_invoice, paying_tenant

CHILD = Path(__file__).with_name("crash_child.py")
POINTS = ["before_stripe", "after_stripe", "before_commit", "after_commit", "timer"]
TRIALS = 20  # four of each point, each on a random one of the run's invoices / at a random moment


def _charge_run_killed(point: str, nth: int, rng: random.Random) -> int:
    env = {
        **os.environ,
        "CRASH_DB_NAME": connection.settings_dict["NAME"],
        "CRASH_POINT": "none" if point == "timer" else point,
        "CRASH_NTH": str(nth),
    }
    child = subprocess.Popen(
        [sys.executable, str(CHILD)],
        env=env,
        stdout=subprocess.PIPE,  # noqa: S603
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready", child.stderr.read()
    if point == "timer":
        time.sleep(rng.uniform(0, 0.5))
        child.send_signal(signal.SIGKILL)
    try:
        child.wait(60)
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode


@pytest.mark.django_db(transaction=True)
def test_sigkill_while_charging_then_one_sweep_leaves_every_invoice_charged_once_and_paid():
    rng = random.Random(int(os.environ.get("CRASH_SEED", time.time_ns())))
    tenants = [paying_tenant() for _ in range(3)]
    killed = 0
    for trial in range(TRIALS):
        point = POINTS[trial % len(POINTS)]
        invoices = [due_invoice(tenant, amount=1_000 + trial) for tenant in tenants]
        returncode = _charge_run_killed(point, rng.randint(1, len(invoices)), rng)
        killed += returncode == -signal.SIGKILL
        payments_sweep()
        for tenant, invoice in zip(tenants, invoices, strict=True):
            invoice.refresh_from_db()
            where = f"trial {trial} ({point}, exit {returncode})"
            assert charges_per_invoice(tenant).get(str(invoice.pk)) == 1, f"{where}: not charged exactly once"
            assert invoice.status == Invoice.Status.SUCCESSFUL, f"{where}: charged but unpaid / stuck"
            assert not invoice.payments.filter(status=Payment.Status.PENDING).exists(), f"{where}: stuck"
    assert killed >= TRIALS - 4  # the timer may fire after a run has finished; every other point kills
