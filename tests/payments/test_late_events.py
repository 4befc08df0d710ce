"""Issue 11: late authentication events for a month already invoiced are accepted, reported as `late`, and their
extra MAU overage is billed once, as a labelled adjustment line on the next invoice; an optional grace period
holds the monthly invoice back."""

import json

import pytest
import time_machine

from payments.invoicing import cycle
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


def test_late_events_are_reported_and_billed_once_as_an_adjustment(client, tenant):
    buy(tenant, "starter", jst(2027, 3, 1))  # Starter: 1,000 MAU, ¥30 per MAU above
    make_rps(tenant, "login.example.com")
    with time_machine.travel(jst(2027, 3, 20, 12), tick=False):
        key = make_api_key(tenant=tenant)
        answer = ingest(client, tenant, key, [f"u{i}" for i in range(1_002)], "2027-03-20T10:00:00+09:00")
    assert answer == {"accepted": 1_002, "duplicates": 0, "late": 0, "late_months": []}
    with time_machine.travel(jst(2027, 4, 1, 0, 10), tick=False):
        april = cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=4)
    assert ("MAU overage (above 1,000 MAU)", 2, 60) in lines(april)
    with time_machine.travel(jst(2027, 4, 2, 12), tick=False):
        late = ingest(
            client, tenant, key, [f"late{i}" for i in range(5)] + ["u1"], "2027-03-31T23:00:00+09:00"
        )
        on_time = ingest(client, tenant, key, ["april-user"], "2027-04-02T09:00:00+09:00")
    assert late == {"accepted": 6, "duplicates": 0, "late": 6, "late_months": ["2027-03"]}
    assert on_time["late"] == 0
    with time_machine.travel(jst(2027, 5, 1, 0, 10), tick=False):
        may = cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=5)
        assert cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=5).pk == may.pk
    assert (
        "MAU overage adjustment for 2027-03 (late authentication events, above 1,000 MAU)",
        5,
        150,
    ) in lines(may)
    with time_machine.travel(jst(2027, 6, 1, 0, 10), tick=False):
        june = cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=6)
    assert not [line for line in lines(june) if "adjustment" in line[0]]  # billed once


def test_grace_period_holds_the_monthly_invoice_back(tenant, settings):
    buy(tenant, "starter", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 1, 0, 10), tick=False):
        cycle.monthly_invoice_issue(tenant=tenant, year=2027, month=3)
    settings.BILLING_LATE_EVENTS_GRACE_HOURS = 6
    assert tenant.pk not in cycle.tenants_to_invoice(at=jst(2027, 4, 1, 3, 0))
    assert tenant.pk in cycle.tenants_to_invoice(at=jst(2027, 4, 1, 6, 30))


def test_billing_details_page_explains_the_late_events_policy(owner_client, tenant, settings):
    settings.BILLING_LATE_EVENTS_GRACE_HOURS = 6
    page = owner_client.get(f"/t/{tenant.slug}/billing/").content.decode()
    assert "Late authentication events:" in page
    assert "MAU overage adjustment for YYYY-MM (late authentication events)" in page
    assert "issued 6 hours after the month begins" in page
