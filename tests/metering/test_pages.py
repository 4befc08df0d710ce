import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.models import ApiKey, hash_api_key
from metering.models import MauAlert
from metering.services import auth_events_ingest
from tests.metering.factories import auth, make_rps

pytestmark = pytest.mark.django_db
NOW = "2026-11-20T03:00:00Z"


def ingest(tenant, users, prefix="e", when="2026-11-19T00:00:00Z"):
    return auth_events_ingest(
        tenant=tenant,
        events=[
            {"id": f"{prefix}{i}", "rp": "login.example.com", "user_id": u, "occurred_at": when}
            for i, u in enumerate(users)
        ],
    )


@time_machine.travel(NOW, tick=False)
def test_customer_view_shows_mau_chart_table_and_alert_panel(owner_client, tenant):
    make_rps(tenant, "login.example.com", "shop.example.com")
    ingest(tenant, ["a", "b", "c"])
    ingest(tenant, ["a"], prefix="old", when="2026-09-05T00:00:00Z")
    body = owner_client.get(reverse("customer_view", args=[tenant.slug])).content.decode()
    for text in [
        "MAU information",
        "MAU usage count this month",
        "MAU per RP (table)",
        "login.example.com",
        "MAU exceeded alert",
        "Edit MAU exceeding alert",
        "Notify representative",
        "vendor/chartjs/chart.umd.min.js",
        "Last 12 months",
        'id="mau-history"',
    ]:
        assert text in body, text
    assert "<span data-mau-live>3</span>" in body
    assert '<th scope="row">2026-09</th><td class="num">1</td>' in body
    assert "2026-06" in body  # 6 months by default: June … November
    body = owner_client.get(reverse("customer_view", args=[tenant.slug]) + "?mau_months=3").content.decode()
    assert "2026-06" not in body and "2026-09" in body


def test_manager_sees_mau_but_cannot_edit_alert(client, tenant, manager):
    client.force_login(manager)
    body = client.get(reverse("customer_view", args=[tenant.slug])).content.decode()
    assert "MAU information" in body
    assert "Edit MAU exceeding alert" not in body
    assert (
        client.post(reverse("metering_mau_alert_edit", args=[tenant.slug]), {"threshold": 1}).status_code
        == 403
    )


@time_machine.travel(NOW, tick=False)
def test_mau_live_json(owner_client, tenant):
    make_rps(tenant, "login.example.com")
    ingest(tenant, ["a", "b"])
    response = owner_client.get(reverse("metering_mau_live", args=[tenant.slug]))
    assert response.json() == {"month": "2026-11", "mau": 2, "max_mau": None}
    body = owner_client.get(reverse("billing_dashboard", args=[tenant.slug])).content.decode()
    assert "js/mau_live.js" in body and reverse("metering_mau_live", args=[tenant.slug]) in body


@time_machine.travel(NOW, tick=False)
def test_alert_settings_form_validates_and_one_email_per_month(
    owner_client, tenant, owner, django_capture_on_commit_callbacks
):
    make_rps(tenant, "login.example.com")
    url = reverse("metering_mau_alert_edit", args=[tenant.slug])
    response = owner_client.post(url, {"notify_representative": "on", "threshold": ""})
    assert "Enter a MAU threshold" in response.content.decode()
    response = owner_client.post(url, {"notify_representative": "on", "threshold": "0"})
    assert response.status_code == 200 and "greater than or equal to 1" in response.content.decode()
    response = owner_client.post(url, {"notify_representative": "on", "threshold": "3"}, follow=True)
    assert "MAU exceeding alert saved." in response.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        ingest(tenant, ["a", "b"], prefix="x")
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        ingest(tenant, ["c", "d"], prefix="y")
    with django_capture_on_commit_callbacks(execute=True):
        ingest(tenant, ["e", "f"], prefix="z")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [owner.email]
    assert "reached 4 MAU in 2026-11" in message.subject
    assert "threshold of 3" in message.body
    assert "threshold of 3" in message.alternatives[0][0]
    alert = MauAlert.objects.get(tenant=tenant)
    assert alert.notified_at is not None
    body = owner_client.get(reverse("customer_view", args=[tenant.slug])).content.decode()
    assert "MAU reached 4 this month (threshold 3); the representative was notified" in body


@time_machine.travel(NOW, tick=False)
def test_alert_off_sends_nothing(tenant, django_capture_on_commit_callbacks):
    make_rps(tenant, "login.example.com")
    with django_capture_on_commit_callbacks(execute=True):
        ingest(tenant, [f"u{i}" for i in range(50)])
    assert mail.outbox == [] and not MauAlert.objects.exists()


def test_owner_creates_key_shown_once_and_revokes_it(owner_client, tenant, client):
    url = reverse("metering_api_keys", args=[tenant.slug])
    response = owner_client.post(url, {"name": ""})
    assert "This field is required." in response.content.decode()
    response = owner_client.post(url, {"name": "login service"})
    body = response.content.decode()
    assert "Copy this key now" in body
    raw = body.split("data-new-api-key>")[1].split("<")[0]
    key = ApiKey.objects.get(tenant=tenant)
    assert key.key_hash == hash_api_key(raw) and raw not in key.key_hash
    assert raw not in owner_client.get(url).content.decode()  # shown once
    assert client.get(f"/api/v1/tenants/{tenant.slug}/mau", **auth(raw)).status_code == 200

    revoke = reverse("metering_api_key_revoke", args=[tenant.slug, key.pk])
    assert "will be refused (401)" in owner_client.get(revoke).content.decode()
    response = owner_client.post(revoke, follow=True)
    assert "revoked" in response.content.decode()
    assert client.get(f"/api/v1/tenants/{tenant.slug}/mau", **auth(raw)).status_code == 401


def test_billing_admin_cannot_manage_keys(client, tenant, billing_admin):
    client.force_login(billing_admin)
    assert client.get(reverse("metering_api_keys", args=[tenant.slug])).status_code == 403


@time_machine.travel(NOW, tick=False)
def test_saving_a_threshold_below_this_months_mau_alerts_at_once_and_task_is_idempotent(
    tenant, owner, django_capture_on_commit_callbacks
):
    from metering.services import mau_alert_notify, mau_alert_setting_update

    make_rps(tenant, "login.example.com")
    ingest(tenant, ["a", "b", "c"])
    with django_capture_on_commit_callbacks(execute=True):
        mau_alert_setting_update(tenant=tenant, notify_representative=True, threshold=2)
    assert len(mail.outbox) == 1
    alert = MauAlert.objects.get(tenant=tenant)
    assert (alert.mau_at_alert, alert.threshold, alert.notified_to) == (3, 2, owner.email)
    mau_alert_notify(alert_id=alert.pk)  # a redelivered task sends nothing more
    with django_capture_on_commit_callbacks(execute=True):
        mau_alert_setting_update(tenant=tenant, notify_representative=True, threshold=1)
    assert len(mail.outbox) == 1
    # Next month: a new alert and a new e-mail.
    with time_machine.travel("2026-12-02T03:00:00Z", tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            ingest(tenant, ["a"], prefix="dec", when="2026-12-02T00:00:00Z")
        assert len(mail.outbox) == 2
        assert "2026-12" in mail.outbox[1].subject
