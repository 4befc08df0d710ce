"""The MAU evidence export (issue 17): for a tenant and month, the counted user ids with their first
authentication (tenant's time zone) and its RP, as a streamed CSV — on the tenant's pages and the operator API, from
the event store selected (PostgreSQL's first-seen table or ClickHouse), the same rows from both."""

import csv
import io
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Role
from metering import partitions
from metering.event_outbox import events_ship_all
from tests.factories import MembershipFactory, TenantFactory
from tests.metering.factories import auth, event, make_api_key, make_rps
from tests.metering.test_event_store import RPS, scenario_events

pytestmark = pytest.mark.django_db
NOW = "2026-11-20T03:00:00Z"


def csv_rows(response):
    assert response.status_code == 200, response.content[:500]
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def post(client, tenant, key, events):
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/auth-events",
        json.dumps({"events": events}),
        content_type="application/json",
        **auth(key),
    )
    assert response.status_code == 200, response.content
    return response.json()


def expected_rows(batches, tz_name, month):
    """Brute force: first copy of each id counts; per user, the earliest event of the month (then smallest RP)."""
    seen, first = set(), {}
    tz = ZoneInfo(tz_name)
    for batch in batches:
        for e in batch:
            if e["id"] in seen:
                continue
            seen.add(e["id"])
            instant = datetime.fromisoformat(e["occurred_at"]).astimezone(UTC)
            if f"{instant.astimezone(tz):%Y-%m}" != month:
                continue
            candidate = (instant, e["rp"])
            if e["user_id"] not in first or candidate < first[e["user_id"]]:
                first[e["user_id"]] = candidate
    return [
        [user, instant.astimezone(tz).isoformat(sep=" "), rp]
        for user, (instant, rp) in sorted(first.items(), key=lambda item: item[0].encode())
    ]


def ingest_scenario(client, slug, ship):
    tenant = TenantFactory(slug=slug, time_zone="Asia/Tokyo")
    make_rps(tenant, *RPS)
    key = make_api_key(tenant=tenant)
    batches = scenario_events(seed=5)
    for batch in batches:
        post(client, tenant, key, batch)
        ship()
    return tenant, key, batches


def test_the_evidence_csv_is_the_same_from_postgresql_and_clickhouse(client, settings, _chdb_dir):
    with time_machine.travel(NOW, tick=False):
        pg_tenant, pg_key, batches = ingest_scenario(client, "pg-evidence", ship=lambda: None)
        pg = {
            m: csv_rows(
                client.get(f"/api/v1/tenants/{pg_tenant.slug}/mau/evidence?month={m}", **auth(pg_key))
            )
            for m in ("2026-10", "2026-11")
        }
        settings.EVENT_STORE_URL = f"chdb://{_chdb_dir}?database=bp_test"
        from metering import event_store

        event_store.current().truncate()
        ch_tenant, ch_key, _ = ingest_scenario(client, "ch-evidence", ship=events_ship_all)
        ch = {
            m: csv_rows(
                client.get(f"/api/v1/tenants/{ch_tenant.slug}/mau/evidence?month={m}", **auth(ch_key))
            )
            for m in ("2026-10", "2026-11")
        }
    header = ["User ID", "First authentication (Asia/Tokyo)", "RP ID"]
    for month in ("2026-10", "2026-11"):
        assert pg[month][0] == ch[month][0] == header
        expected = expected_rows(batches, "Asia/Tokyo", month)
        assert len(expected) > 10
        assert pg[month][1:] == expected, month
        assert ch[month][1:] == expected, month
    # Odd user ids survive the CSV (quotes, a tab, Japanese) and the rows count what the MAU counts.
    users = {row[0] for row in pg["2026-11"][1:]}
    assert {"ユーザー", 'a"b', "tab\there"} & users


@time_machine.travel(NOW, tick=False)
def test_the_page_downloads_the_csv_for_the_roles_of_the_mau_page(client, tenant, owner):
    make_rps(tenant, "login.example.com", "shop.example.com")
    key = make_api_key(tenant=tenant)
    post(
        client,
        tenant,
        key,
        [
            event("e1", "alice", "2026-11-02T10:00:00.250000Z", rp="shop.example.com"),
            event("e2", "alice", "2026-11-01T00:30:00+09:00"),  # earlier, sent later in the batch
            event("e3", "bob", "2026-11-19T15:00:00Z"),  # 2026-11-20 00:00 in Tokyo
            event("e4", "carol", "2026-10-31T14:59:59Z"),  # still October in Tokyo
        ],
    )
    post(
        client, tenant, key, [event("e5", "bob", "2026-11-03T00:00:00Z", rp="shop.example.com")]
    )  # late, earlier
    url = reverse("metering_mau_evidence", args=[tenant.slug])
    for role in (Role.OWNER, Role.BILLING_ADMIN, Role.MANAGER):
        user = owner if role == Role.OWNER else MembershipFactory(tenant=tenant, role=role).user
        client.force_login(user)
        rows = csv_rows(client.get(url + "?month=2026-11"))
        assert rows == [
            ["User ID", "First authentication (Asia/Tokyo)", "RP ID"],
            ["alice", "2026-11-01 00:30:00+09:00", "login.example.com"],
            ["bob", "2026-11-03 09:00:00+09:00", "shop.example.com"],
        ], role
    response = client.get(url + "?month=2026-11")
    assert response["Content-Disposition"] == f'attachment; filename="mau-evidence-{tenant.slug}-2026-11.csv"'
    assert csv_rows(client.get(url + "?month=2026-10"))[1:] == [
        ["carol", "2026-10-31 23:59:59+09:00", "login.example.com"]
    ]
    client.force_login(MembershipFactory(tenant=tenant, role=Role.MEMBER).user)
    assert client.get(url + "?month=2026-11").status_code == 403


@time_machine.travel(NOW, tick=False)
def test_a_bad_month_is_a_form_error_and_no_month_shows_the_form(owner_client, tenant):
    url = reverse("metering_mau_evidence", args=[tenant.slug])
    page = owner_client.get(url)
    assert page.status_code == 200
    assert 'value="2026-11"' in page.content.decode()
    for bad in ("2026-13", "nonsense", "", "0999-01", "2026-1"):
        response = owner_client.get(url, {"month": bad})
        assert response.status_code == 400, bad
        assert "Enter a month as YYYY-MM, e.g. 2026-11." in response.content.decode()
    # The MAU page links to it.
    body = owner_client.get(reverse("customer_view", args=[tenant.slug])).content.decode()
    assert f'href="{url}?month=2026-11"' in body


@time_machine.travel(NOW, tick=False)
def test_headers_follow_the_language(owner_client, tenant):
    url = reverse("metering_mau_evidence", args=[tenant.slug])
    rows = csv_rows(owner_client.get(url + "?month=2026-11", HTTP_ACCEPT_LANGUAGE="ja"))
    assert rows[0] == ["ユーザーID", "初回認証日時（Asia/Tokyo）", "RP ID"]


@time_machine.travel(NOW, tick=False)
def test_a_tenant_sees_only_its_own_users(client, tenant, owner, other_tenant):
    for t, users in ((tenant, ["mine"]), (other_tenant, ["theirs", "mine-too"])):
        make_rps(t, "login.example.com")
        post(
            client,
            t,
            make_api_key(tenant=t),
            [event(f"{u}-1", u, "2026-11-02T10:00:00Z") for u in users],
        )
    client.force_login(owner)
    rows = csv_rows(client.get(reverse("metering_mau_evidence", args=[tenant.slug]) + "?month=2026-11"))
    assert [row[0] for row in rows[1:]] == ["mine"]
    assert (
        client.get(reverse("metering_mau_evidence", args=[other_tenant.slug]) + "?month=2026-11").status_code
        == 404
    )
    key = make_api_key(tenant=tenant)
    response = client.get(f"/api/v1/tenants/{other_tenant.slug}/mau/evidence?month=2026-11", **auth(key))
    assert response.status_code in (403, 404)
    platform = make_api_key()
    rows = csv_rows(
        client.get(f"/api/v1/tenants/{other_tenant.slug}/mau/evidence?month=2026-11", **auth(platform))
    )
    assert sorted(row[0] for row in rows[1:]) == ["mine-too", "theirs"]


@time_machine.travel(NOW, tick=False)
def test_the_api_answers_400_for_a_bad_month_and_the_evidence_outlives_the_raw_events(client, tenant):
    make_rps(tenant, "login.example.com")
    key = make_api_key(tenant=tenant)
    bad = client.get(f"/api/v1/tenants/{tenant.slug}/mau/evidence?month=2026-13", **auth(key))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_month"
    post(client, tenant, key, [event(f"e{i}", f"u{i}", "2026-11-02T10:00:00Z") for i in range(3)])
    url = f"/api/v1/tenants/{tenant.slug}/mau/evidence?month=2026-11"
    before = csv_rows(client.get(url, **auth(key)))
    assert len(before) == 4
    assert "metering_authevent_y2026m11" in partitions.partitions_drop_expired(
        now=datetime(2027, 12, 5, tzinfo=UTC), retention=12
    )
    assert csv_rows(client.get(url, **auth(key))) == before
