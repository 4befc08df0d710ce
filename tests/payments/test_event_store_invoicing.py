"""Invoicing with the ClickHouse event store: the month's MAU is read from ClickHouse after the tenant's queued
events were shipped, frozen into PostgreSQL (MauBilled, once per invoice), and late events follow the same policy
as with PostgreSQL (an adjustment line on the next invoice, billed once)."""

import json

import pytest
import time_machine
from django.core import mail

from metering.clickhouse import ClickHouseError
from metering.event_outbox import events_ship_all
from metering.models import EventOutbox, MauAlert, MauAlertSetting, MauBilled
from payments.invoicing import cycle
from payments.models import Invoice
from tests.licenses.conftest import buy, jst
from tests.metering.factories import auth, make_api_key, make_rps

pytestmark = pytest.mark.django_db


def ingest(client, tenant, key, users, occurred_at):
    events = [
        {"id": f"{u}-{occurred_at}", "rp": "login.example.com", "user_id": u, "occurred_at": occurred_at}
        for u in users
    ]
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/auth-events",
        json.dumps({"events": events}),
        content_type="application/json",
        **auth(key),
    )
    assert response.status_code == 200, response.content
    return response.json()


def lines(invoice):
    return [(line.description, int(line.quantity), line.amount) for line in invoice.lines.all()]


def billed(tenant):
    return list(
        MauBilled.objects.filter(tenant=tenant)
        .order_by("created_at", "pk")
        .values_list("month", "mau_billed", "overage_billed", "invoice_source_key")
    )


@pytest.mark.parametrize("store", ["postgres", "clickhouse"])
def test_mau_is_frozen_at_invoicing_once_and_late_events_are_billed_once(client, tenant, store, request):
    if store == "clickhouse":
        request.getfixturevalue("clickhouse_store")
    buy(tenant, "starter", jst(2027, 3, 1))  # Starter: 1,000 MAU, ¥30 per MAU above
    make_rps(tenant, "login.example.com")
    with time_machine.travel(jst(2027, 3, 20, 12), tick=False):
        key = make_api_key(tenant=tenant)
        assert (
            ingest(client, tenant, key, [f"u{i}" for i in range(1_003)], "2027-03-20T10:00:00+09:00")[
                "accepted"
            ]
            == 1_003
        )
        ingest(client, tenant, key, ["u1", "u2"], "2027-03-20T11:00:00+09:00")  # the same users again
    # With ClickHouse nothing has been shipped yet: the invoice ships the tenant's queue before it counts.
    assert EventOutbox.objects.filter(tenant=tenant).count() == (2 if store == "clickhouse" else 0)
    with time_machine.travel(jst(2027, 4, 1, 0, 10), tick=False):
        april = cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=4)
        again = cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=4)
    assert again.pk == april.pk and not EventOutbox.objects.filter(tenant=tenant).exists()
    assert ("MAU overage (above 1,000 MAU)", 3, 90) in lines(april)
    frozen = [(jst(2027, 3, 1).date(), 1_003, 3, april.source_key)]
    assert billed(tenant) == frozen  # once, however often the invoice run comes back

    with time_machine.travel(jst(2027, 4, 2, 12), tick=False):
        late = ingest(
            client, tenant, key, [f"late{i}" for i in range(4)] + ["u1"], "2027-03-31T23:00:00+09:00"
        )
    assert late == {"accepted": 5, "duplicates": 0, "late": 5, "late_months": ["2027-03"]}
    assert billed(tenant) == frozen  # what April's invoice billed does not move
    with time_machine.travel(jst(2027, 5, 1, 0, 10), tick=False):
        may = cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=5)
        assert cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=5).pk == may.pk
    assert (
        "MAU overage adjustment for 2027-03 (late authentication events, above 1,000 MAU)",
        4,
        120,
    ) in lines(may)
    assert sorted(billed(tenant)) == sorted(
        frozen
        + [
            (
                jst(2027, 3, 1).date(),
                1_007,
                7,
                may.source_key,
            ),  # March again: the adjustment, with March's MAU now
            (jst(2027, 4, 1).date(), 0, 0, may.source_key),  # April (no events)
        ]
    )
    with time_machine.travel(jst(2027, 6, 1, 0, 10), tick=False):
        june = cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=6)
    assert not [line for line in lines(june) if "adjustment" in line[0]]  # billed once


def test_no_invoice_while_clickhouse_cannot_be_reached(client, tenant, settings, clickhouse_store):
    buy(tenant, "starter", jst(2027, 3, 1))
    make_rps(tenant, "login.example.com")
    with time_machine.travel(jst(2027, 3, 20, 12), tick=False):
        ingest(client, tenant, make_api_key(tenant=tenant), ["u1"], "2027-03-20T10:00:00+09:00")
    settings.EVENT_STORE_URL = "clickhouse://default:@127.0.0.1:9/billing_portal"  # nothing listens there
    with time_machine.travel(jst(2027, 4, 1, 0, 10), tick=False), pytest.raises(ClickHouseError):
        cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=4)
    assert not Invoice.objects.filter(
        tenant=tenant, kind=Invoice.Kind.MONTHLY, billing_date__month=4
    ).exists()
    assert EventOutbox.objects.filter(tenant=tenant).count() == 1  # still queued: the next run ships it


def test_mau_alert_is_raised_when_the_events_reach_clickhouse(
    client, tenant, clickhouse_store, django_capture_on_commit_callbacks
):
    make_rps(tenant, "login.example.com")
    MauAlertSetting.objects.create(tenant=tenant, notify_representative=True, threshold=3)
    with time_machine.travel(jst(2027, 3, 20, 12), tick=False):
        key = make_api_key(tenant=tenant)
        ingest(client, tenant, key, ["a", "b"], "2027-03-20T10:00:00+09:00")
        events_ship_all()
        assert not MauAlert.objects.filter(tenant=tenant).exists()
        ingest(client, tenant, key, ["b", "c", "d"], "2027-03-20T11:00:00+09:00")
        assert not MauAlert.objects.filter(tenant=tenant).exists()  # queued, not counted yet
        with django_capture_on_commit_callbacks(execute=True):
            events_ship_all()
        events_ship_all()
    alert = MauAlert.objects.get(tenant=tenant)
    assert (alert.month.isoformat(), alert.mau_at_alert, alert.threshold) == ("2027-03-01", 4, 3)
    assert [m.to for m in mail.outbox if "MAU" in m.subject] == [[tenant.representative.email]]


def test_unsubscribing_deletes_the_tenants_rows_in_clickhouse(client, tenant, clickhouse_store):
    from payments.unsubscribe import tenant_unsubscribe
    from tests.factories import TenantFactory

    other = TenantFactory()
    for t in (tenant, other):
        make_rps(t, "login.example.com")
    with time_machine.travel(jst(2027, 3, 20, 12), tick=False):
        for t in (tenant, other):
            ingest(client, t, make_api_key(tenant=t), ["a", "b"], "2027-03-20T10:00:00+09:00")
        events_ship_all()
        march = jst(2027, 3, 1).date()
        assert clickhouse_store.mau(tenant=tenant, month=march) == 2
        tenant_unsubscribe(tenant=tenant, actor=tenant.representative)
        assert EventOutbox.objects.filter(tenant=tenant, kind=EventOutbox.Kind.FORGET_TENANT).count() == 1
        events_ship_all()
    assert clickhouse_store.mau(tenant=tenant, month=march) == 0
    assert clickhouse_store.conn.query(
        "SELECT count() FROM bp_test.auth_events WHERE tenant_id = {t:UInt64}", {"t": tenant.pk}
    ) == [[0]]
    assert clickhouse_store.mau(tenant=other, month=march) == 2
