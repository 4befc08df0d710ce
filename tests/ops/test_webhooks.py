"""Outgoing webhooks: outbox in the change's transaction, Standard Webhooks signatures verified by the published
library, the delivery log, exponential backoff for three days, resend, SSRF."""

import re
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import transaction
from django.test import override_settings
from kombu.exceptions import OperationalError

from accounts.services import tenant_create
from licenses.selectors import plan_get
from licenses.services import license_cancel, license_change_now, license_reserve_change
from ops import webhook_delivery
from ops.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from tests.factories import UserFactory
from tests.licenses.conftest import buy, jst

pytestmark = pytest.mark.django_db


def test_an_upgrade_is_delivered_signed_and_the_library_verifies_it(
    tenant, receiver, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for("license.changed")
    buy(tenant, "starter", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 10), tick=False), django_capture_on_commit_callbacks(execute=True):
        license_change_now(
            tenant=tenant, plan=plan_get(code="business", currency="JPY"), proration_behavior="always_invoice"
        )
    [upgrade] = receiver.verified("license.changed")  # (the purchase's callbacks were not run: not committed)
    assert upgrade["payload"]["data"]["action"] == "changed"
    assert upgrade["payload"]["data"]["plan"] == {"code": "business", "name": "Business"}
    assert upgrade["payload"]["data"]["tenant"]["slug"] == tenant.slug
    assert upgrade["payload"]["timestamp"] == "2027-03-09T15:00:00Z"  # 10 Mar 00:00 JST
    # the delivery log: status, latency, response excerpt
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event__message_id=upgrade["message_id"])
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    [attempt] = delivery.attempts.all()
    assert attempt.status == WebhookAttempt.Status.SUCCEEDED and attempt.response_status == 200
    assert attempt.latency_ms is not None and attempt.response_excerpt == '{"verified": true}'
    assert attempt.attempt_id == upgrade["attempt_id"]


def test_a_wrong_secret_fails_verification_and_the_delivery_is_retried(
    receiver, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint_for("tenant.created")
    receiver.secret = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="  # not the endpoint's
    with django_capture_on_commit_callbacks(execute=True):
        tenant_create(owner=UserFactory(), name="Omega")
    assert receiver.requests and not receiver.verified()
    delivery = WebhookDelivery.objects.get()
    assert (
        delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts.get().response_status == 401
    )


def test_only_subscribed_endpoints_and_only_enabled_ones_get_the_event(
    receiver, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint_for("license.cancelled")
    off = endpoint_for("tenant.created")
    off.enabled = False
    off.save()
    with django_capture_on_commit_callbacks(execute=True):
        tenant_create(owner=UserFactory(), name="Omega")
    assert receiver.requests == [] and not WebhookEvent.objects.exists()


def test_a_rolled_back_change_sends_nothing(receiver, endpoint_for, django_capture_on_commit_callbacks):
    endpoint_for("tenant.created")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            tenant_create(owner=UserFactory(), name="Omega")
            raise RuntimeError("the change fails after the event was written")
    assert not WebhookEvent.objects.exists()
    webhook_delivery.webhooks_sweep()
    assert receiver.requests == []


def test_a_lost_queue_message_is_delivered_by_the_tick(
    receiver, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint_for("tenant.created")
    with (
        mock.patch("ops.tasks.deliver_webhook.delay", side_effect=OperationalError("Redis is down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tenant = tenant_create(owner=UserFactory(), name="Omega")  # the change does not fail
    assert receiver.requests == []
    report = webhook_delivery.webhooks_sweep()
    assert report["delivered"] == 1
    [request] = receiver.verified("tenant.created")
    assert request["payload"]["data"]["tenant"] == {"id": tenant.pk, "slug": tenant.slug, "test": False}


def test_failures_back_off_exponentially_for_three_days_then_give_up_and_ops_resend(
    receiver, endpoint_for, django_capture_on_commit_callbacks, admin_client
):
    endpoint_for("license.reservation_set", "license.cancelled")
    receiver.status = 500
    tenant = tenant_create(owner=UserFactory(), name="Omega")
    buy(tenant, "business", jst(2027, 3, 1))
    start = jst(2027, 3, 2)
    with time_machine.travel(start, tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=True):
            license_reserve_change(tenant=tenant, plan=plan_get(code="starter", currency="JPY"))
        delivery = WebhookDelivery.objects.get()
        gaps = []
        while delivery.status == WebhookDelivery.Status.PENDING:
            gaps.append((delivery.next_attempt_at - webhook_delivery.clock.system_now()).total_seconds())
            traveller.move_to(delivery.next_attempt_at)
            webhook_delivery.webhooks_sweep()
            delivery.refresh_from_db()
        last_attempt_at = webhook_delivery.clock.system_now()
    # by hand: 30 s doubling (30, 60, … 30,720 s after attempts 1–11), then 12 h apart; attempt 16 is at
    # 65 h 03 min 30 s and a 17th would be after 72 h.
    assert gaps[:11] == [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720]
    assert gaps[11:] == [43200] * 4
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.attempt_count == 16
    assert last_attempt_at - start == timedelta(hours=65, minutes=3, seconds=30)
    assert len(receiver.verified()) == 16 and all(r["verified"] for r in receiver.requests)
    assert len({r["attempt_id"] for r in receiver.requests}) == 16
    assert len({r["message_id"] for r in receiver.requests}) == 1

    # Admin: the log lists it as failed with the last response; "Resend" delivers it once the receiver is back.
    page = admin_client.get("/admin/ops/webhookdelivery/?status__exact=failed")
    assert "license.reservation_set" in page.content.decode() and "500" in page.content.decode()
    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/ops/webhookdelivery/", {"action": "resend", "_selected_action": [delivery.pk]}
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED and delivery.attempt_count == 17
    detail = admin_client.get(f"/admin/ops/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert (
        len(set(re.findall(r"att_[0-9a-z]{24}", detail))) == 17 and "{&quot;verified&quot;: true}" in detail
    )


def test_every_listed_event_type_reaches_its_subscriber(
    tenant, receiver, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint_for("license.cancelled", "license.reservation_set")
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 3), tick=False), django_capture_on_commit_callbacks(execute=True):
        license_reserve_change(tenant=tenant, plan=plan_get(code="starter", currency="JPY"))
        license_cancel(tenant=tenant)
    assert [r["payload"]["type"] for r in receiver.verified()] == [
        "license.reservation_set",
        "license.cancelled",
    ]
    assert receiver.verified("license.cancelled")[0]["payload"]["data"]["effective_at"].startswith(
        "2027-03-31T15"
    )


# --- SSRF --------------------------------------------------------------------------------------------------

BLOCKED = [
    "http://127.0.0.1:9/",
    "http://localhost/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/",
    "http://192.168.0.10/",
    "http://172.16.5.4/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://2130706433/",
    "ftp://example.com/",
    "http://user:pw@93.184.216.34/",
]


@override_settings(OUTGOING_WEBHOOKS_ALLOW_PRIVATE=False)
@pytest.mark.parametrize("url", BLOCKED)
def test_ssrf_loopback_link_local_private_and_odd_urls_are_refused(url):
    with pytest.raises(webhook_delivery.UnsafeEndpoint):
        webhook_delivery.resolve_endpoint(url)


@override_settings(OUTGOING_WEBHOOKS_ALLOW_PRIVATE=False)
def test_ssrf_public_addresses_are_accepted_and_connected_to_as_resolved():
    assert webhook_delivery.resolve_endpoint("https://93.184.216.34/hook") == (
        "https",
        "93.184.216.34",
        443,
        "93.184.216.34",
    )


@override_settings(OUTGOING_WEBHOOKS_ALLOW_PRIVATE=False)
def test_ssrf_admin_refuses_a_private_endpoint(admin_client):
    response = admin_client.post(
        "/admin/ops/webhookendpoint/add/",
        {
            "url": "http://169.254.169.254/latest/",
            "description": "metadata",
            "events": ["invoice.paid"],
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "webhooks are only sent to public addresses" in response.content.decode()


def test_ssrf_a_host_that_turns_private_later_is_not_contacted(
    receiver, endpoint_for, django_capture_on_commit_callbacks
):
    endpoint_for("tenant.created")  # registered while allowed (development)
    with (
        override_settings(OUTGOING_WEBHOOKS_ALLOW_PRIVATE=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tenant_create(owner=UserFactory(), name="Omega")
    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.status == WebhookAttempt.Status.FAILED and "public addresses" in attempt.error


def test_admin_registers_an_endpoint_with_a_signing_secret(admin_client, receiver):
    response = admin_client.post(
        "/admin/ops/webhookendpoint/add/",
        {
            "url": receiver.url,
            "description": "thank-you mails",
            "events": ["invoice.paid", "invoice.issued"],
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    from ops.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["invoice.paid", "invoice.issued"] and endpoint.secret.startswith("whsec_")
    page = admin_client.get(f"/admin/ops/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret in page


def test_a_delivery_to_an_endpoint_disabled_since_is_not_sent(receiver, endpoint_for):
    endpoint = endpoint_for("tenant.created")
    with mock.patch("ops.tasks.deliver_webhook.delay"):
        tenant_create(owner=UserFactory(), name="Omega")
    endpoint.enabled = False
    endpoint.save()
    assert webhook_delivery.webhooks_sweep() == {"abandoned": 0, "gave_up": 1}
    assert receiver.requests == [] and WebhookDelivery.objects.get().status == WebhookDelivery.Status.FAILED


def test_the_endpoint_list_is_read_once_per_process_window(endpoint_for, django_assert_num_queries):
    from ops import outbox

    endpoint = endpoint_for("tenant.created")
    assert outbox.subscribed_endpoint_ids("tenant.created") == [endpoint.pk]
    with django_assert_num_queries(0):  # the billing run's events cost no query for the list
        assert outbox.subscribed_endpoint_ids("invoice.issued") == []
        assert outbox.subscribed_endpoint_ids("tenant.created") == [endpoint.pk]
    endpoint.events = ["invoice.issued"]
    endpoint.save()  # saving forgets the list in this process
    assert outbox.subscribed_endpoint_ids("invoice.issued") == [endpoint.pk]


def test_a_tick_stops_at_its_time_budget_and_leaves_the_rest_due(receiver, endpoint_for):
    endpoint_for("tenant.created")
    with mock.patch("ops.tasks.deliver_webhook.delay"):
        tenant_create(owner=UserFactory(), name="Omega")
        tenant_create(owner=UserFactory(), name="Sigma")
    assert webhook_delivery.webhooks_sweep(budget_seconds=0) == {"abandoned": 0, "left_for_next_tick": 2}
    assert receiver.requests == []
    assert webhook_delivery.webhooks_sweep() == {"abandoned": 0, "delivered": 2}
