"""Test clocks: a test tenant carried from purchase through three monthly invoices and a failed-then-successful
charge on its own clock, while a normal tenant (and the global beat tasks on real time) are untouched.

By hand (Starter ¥25,000, tax 10%): purchase on 10 Jan 09:00 JST, 21 days 15 hours of 31 days left:
25,000 × 21.625 / 31 = 17,439.5 → ¥17,440, tax ¥1,744 → ¥19,184, paid at once. Monthly invoices on 1 Feb, 1 Mar
and 1 Apr: ¥25,000 + ¥2,500 = ¥27,500 each, charged from the 5th; February's card declines on 5 Feb and the retry
3 days later (8 Feb) succeeds with a new card.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from billing_portal.common import clock
from licenses.models import License
from licenses.selectors import plan_get
from licenses.services import license_purchase
from licenses.tasks import licenses_roll_over_due
from ops.models import TestClock
from ops.test_clocks import test_clock_advance, test_clock_create
from payments.charging import charge, sweep
from payments.invoicing import cycle
from payments.models import Invoice
from tests.factories import TenantFactory, UserFactory
from tests.payments.conftest import _stripe_standin  # noqa: F401 - wipes the stand-in before the test
from tests.payments.factories import CHARGE_FAILS, VISA, account_for, card_for, charges_per_invoice
from tests.payments.test_exactly_once import paying_tenant

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")
REAL_NOW = datetime(
    2027, 6, 15, 12, tzinfo=TOKYO
)  # the real time: after everything the test clock goes through


def tokyo(*args):
    return datetime(*args, tzinfo=TOKYO)


def snapshot(tenant):
    return (
        list(
            Invoice.objects.filter(tenant=tenant)
            .order_by("pk")
            .values_list("pk", "status", "payment_amount", "paid_at", "attempt_count", "next_attempt_at")
        ),
        License.objects.filter(tenant=tenant).values_list(
            "plan_id", "current_period_start", "current_period_end"
        )[0],
    )


def monthly(tenant):
    return list(Invoice.objects.filter(tenant=tenant, kind=Invoice.Kind.MONTHLY).order_by("billing_date"))


def test_a_test_clock_carries_a_test_tenant_through_three_invoices_and_a_retry(
    django_capture_on_commit_callbacks,
):
    with time_machine.travel(REAL_NOW, tick=True):
        normal = paying_tenant()
        with django_capture_on_commit_callbacks(execute=True):
            license_purchase(tenant=normal, plan=plan_get(code="business", currency="JPY"))
        before = snapshot(normal)
        assert len(before[0]) == 1

        test_clock = test_clock_create(
            owner=UserFactory(), name="Rehearsal K.K.", frozen_time=tokyo(2027, 1, 10, 9)
        )
        tenant = test_clock.tenant
        assert clock.now(tenant=tenant) == tokyo(2027, 1, 10, 9) and clock.now(tenant=normal) != clock.now(
            tenant=tenant
        )
        account_for(tenant)
        card_for(tenant, VISA)
        with clock.tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):
            license_purchase(tenant=tenant, plan=plan_get(code="starter", currency="JPY"))
        [purchase] = Invoice.objects.filter(tenant=tenant)
        assert (purchase.issued_at, purchase.payment_amount, purchase.status) == (
            tokyo(2027, 1, 10, 9),
            19_184,
            Invoice.Status.SUCCESSFUL,
        )

        # February: invoiced on the 1st, the card declines on the 5th, a retry is set for the 8th.
        card_for(tenant, CHARGE_FAILS)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            test_clock_advance(test_clock=test_clock, to=tokyo(2027, 2, 6))
        [february] = monthly(tenant)
        assert (february.issued_at, february.billing_date.isoformat(), february.payment_amount) == (
            tokyo(2027, 2, 1),
            "2027-02-01",
            27_500,
        )
        assert (february.status, february.attempt_count, february.next_attempt_at) == (
            Invoice.Status.FAILED,
            1,
            tokyo(2027, 2, 8),
        )
        failed_mail = next(m for m in mail.outbox if "fail" in m.subject.lower())
        assert "We will try again on 2027-02-08" in failed_mail.body
        assert clock.now(tenant=tenant) == tokyo(2027, 2, 6)

        # The beat tasks, on real time (15 June), leave the test tenant to its clock.
        assert tenant.pk not in cycle.tenants_to_invoice(at=clock.now())
        charge.invoices_charge_due()
        sweep.payments_sweep()
        licenses_roll_over_due()
        february.refresh_from_db()
        assert (february.status, february.attempt_count) == (Invoice.Status.FAILED, 1)
        assert License.objects.get(tenant=tenant).current_period_start == tokyo(2027, 2, 1)

        # A new card; March and April (by the management command, in months): the retry on 8 Feb succeeds.
        card_for(tenant, VISA)
        with django_capture_on_commit_callbacks(execute=True):
            call_command("advance_test_clock", tenant.slug, "--to", "2027-04-02T00:00+09:00")
        february, march, april = monthly(tenant)
        assert (february.status, february.attempt_count, february.paid_at) == (
            Invoice.Status.SUCCESSFUL,
            2,
            tokyo(2027, 2, 8),
        )
        assert (march.issued_at, march.status, march.paid_at) == (
            tokyo(2027, 3, 1),
            Invoice.Status.SUCCESSFUL,
            tokyo(2027, 3, 5),
        )
        assert (april.issued_at, april.status, april.next_attempt_at) == (
            tokyo(2027, 4, 1),
            Invoice.Status.PENDING,
            tokyo(2027, 4, 5),
        )
        assert [i.payment_amount for i in (february, march, april)] == [27_500] * 3
        assert charges_per_invoice(tenant) == {str(purchase.pk): 1, str(february.pk): 1, str(march.pk): 1}
        license = License.objects.get(tenant=tenant)
        assert (license.current_period_start, license.current_period_end) == (
            tokyo(2027, 4, 1),
            tokyo(2027, 5, 1),
        )

        # The normal tenant's invoices and license are untouched.
        assert snapshot(normal) == before
        assert TestClock.objects.get(pk=test_clock.pk).frozen_time == tokyo(2027, 4, 2)


def test_a_test_tenants_pages_and_api_run_on_its_clock(client):
    test_clock = test_clock_create(
        owner=UserFactory(), name="Rehearsal K.K.", frozen_time=tokyo(2027, 3, 20, 9)
    )
    client.force_login(test_clock.tenant.representative)
    page = client.get(f"/t/{test_clock.tenant.slug}/mau/live/")
    assert page.status_code == 200 and page.json()["month"] == "2027-03"


def test_a_test_clock_only_moves_forward():
    from billing_portal.common.exceptions import ApplicationError

    test_clock = test_clock_create(
        owner=UserFactory(), name="Rehearsal K.K.", frozen_time=tokyo(2027, 3, 20, 9)
    )
    with pytest.raises(ApplicationError):
        test_clock_advance(test_clock=test_clock, to=tokyo(2027, 3, 1))


def test_ops_create_and_advance_a_test_clock_in_admin(admin_client, django_capture_on_commit_callbacks):
    owner = UserFactory(email="rehearsal@example.test")
    response = admin_client.post(
        "/admin/ops/testclock/add/",
        {
            "name": "Rehearsal K.K.",
            "owner": owner.pk,
            "currency": "JPY",
            "time_zone": "Asia/Tokyo",
            "frozen_time": "2027-01-10 09:00",
        },
    )
    assert response.status_code == 302
    test_clock = TestClock.objects.get()
    assert test_clock.frozen_time == tokyo(2027, 1, 10, 9) and test_clock.tenant.representative == owner
    listing = admin_client.get("/admin/ops/testclock/").content.decode()
    assert "2027-01-10 09:00 JST" in listing
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/ops/testclock/{test_clock.pk}/advance/", {"months": 2, "days": 0}, follow=True
        )
    test_clock.refresh_from_db()
    assert test_clock.frozen_time == tokyo(2027, 3, 10, 9)
    assert "advanced to 2027-03-10 00:00 UTC" in response.content.decode()


def test_tasks_queued_on_a_test_clock_run_on_it_in_the_worker():
    """The message header carries the tenant; the worker enters its clock's scope around the task."""
    from types import SimpleNamespace

    from ops import signals

    test_clock = test_clock_create(
        owner=UserFactory(), name="Rehearsal K.K.", frozen_time=tokyo(2027, 3, 20, 9)
    )
    headers = {}
    signals.add_clock_header(headers=headers)
    assert headers == {}
    with clock.tenant_scope(test_clock.tenant):
        signals.add_clock_header(headers=headers)
    assert headers == {"test_clock_tenant": test_clock.tenant_id}
    task = SimpleNamespace(request=SimpleNamespace(test_clock_tenant=test_clock.tenant_id))
    signals.enter_clock_scope(task=task)
    try:
        assert clock.now() == tokyo(2027, 3, 20, 9)
    finally:
        signals.leave_clock_scope(task=task)
    assert clock.now() != tokyo(2027, 3, 20, 9)


def test_a_test_tenants_webhook_events_say_so(receiver, endpoint_for, django_capture_on_commit_callbacks):
    endpoint_for("tenant.created", "license.reservation_set")
    with django_capture_on_commit_callbacks(execute=True):
        test_clock_create(owner=UserFactory(), name="Rehearsal K.K.", frozen_time=tokyo(2027, 3, 20, 9))
    [created] = receiver.verified("tenant.created")
    assert created["payload"]["data"]["tenant"]["test"] is True
    assert created["payload"]["timestamp"] == "2027-03-20T00:00:00Z"  # 09:00 JST on its clock


def test_a_test_tenants_ingest_api_counts_mau_in_its_clocks_month(client):
    """Events at the test clock's time are "now" for it (not refused as being in the future) and count in its
    month; a normal tenant still refuses them."""
    import json

    from metering.selectors import mau_count
    from tests.metering.factories import auth, make_api_key, make_rps

    test_clock = test_clock_create(
        owner=UserFactory(), name="Rehearsal K.K.", frozen_time=tokyo(2027, 3, 20, 9)
    )
    tenant = test_clock.tenant
    make_rps(tenant, "login.example.com")
    raw = make_api_key(tenant=tenant)
    events = [
        {"id": f"e{i}", "rp": "login.example.com", "user_id": f"u{i}", "occurred_at": "2027-03-20T00:00:00Z"}
        for i in range(3)
    ]
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/auth-events",
        json.dumps({"events": events}),
        content_type="application/json",
        **auth(raw),
    )
    assert response.status_code == 200, response.content
    assert mau_count(tenant=tenant, year=2027, month=3) == 3
    normal = TenantFactory()
    make_rps(normal, "login.example.com")
    response = client.post(
        f"/api/v1/tenants/{normal.slug}/auth-events",
        json.dumps({"events": events}),
        content_type="application/json",
        **auth(make_api_key(tenant=normal)),
    )
    assert response.status_code == 400


def test_the_demo_has_a_test_tenant_on_its_own_clock():
    call_command("seed_demo")
    call_command("seed_demo")
    [test_clock] = TestClock.objects.filter(tenant__slug="rehearsal")
    assert test_clock.tenant.representative.email == "owner@demo.example"
