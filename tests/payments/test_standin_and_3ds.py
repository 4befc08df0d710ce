import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from django.conf import settings

from payments.charging import attempts
from payments.charging import gateway as stripe_gateway
from payments.models import Payment, PaymentMethod
from tests.payments.factories import NEEDS_3DS, account_for

ROOT = Path(__file__).resolve().parents[2]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_standin_listens_on_loopback_only_and_keeps_nothing_on_disk(tmp_path):
    port = _free_port()
    pickle = Path("/tmp/localstripe.pickle")
    before = pickle.stat().st_mtime if pickle.exists() else None
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "localstripe_server.py"),
            "--port",
            str(port),  # noqa: S603
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/customers",
            data=urllib.parse.urlencode({"name": "x"}).encode(),
            headers={"Authorization": "Bearer sk_test_x"},
        )
        assert urllib.request.urlopen(request, timeout=5).status == 200  # noqa: S310
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout  # noqa: S603, S607
        assert "127.0.0.1:" in listening and "*:" not in listening and "[::]" not in listening
        after = pickle.stat().st_mtime if pickle.exists() else None
        assert after == before
    finally:
        proc.terminate()
        proc.wait(5)


def test_a_card_needing_3d_secure_leaves_the_payment_requiring_action(tenant):
    account = account_for(tenant)
    body = urllib.parse.urlencode(
        {
            "type": "card",
            "card[number]": NEEDS_3DS,
            "card[exp_month]": "12",
            "card[exp_year]": "2030",
            "card[cvc]": "123",
        }
    ).encode()
    request = urllib.request.Request(
        f"{settings.STRIPE_API_BASE}/v1/payment_methods",
        data=body,
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
    )
    pm_id = json.loads(urllib.request.urlopen(request, timeout=5).read())["id"]  # noqa: S310
    stripe_gateway.payment_method_attach(
        payment_method_id=pm_id, customer_id=account.stripe_customer_id, idempotency_key="a"
    )
    PaymentMethod.objects.create(
        tenant=tenant, stripe_payment_method_id=pm_id, brand="visa", last4="3155", exp_month=12, exp_year=2030
    )
    payment = attempts.payment_charge_off_session(
        tenant=tenant, amount_minor=700, currency="JPY", idempotency_key="invoice-7-attempt-1"
    )
    assert payment.status == Payment.Status.REQUIRES_ACTION
    assert payment.stripe_payment_intent_id.startswith("pi_")
