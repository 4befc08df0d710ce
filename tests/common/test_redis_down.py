"""Redis down: sign-in and the operator API keep working (the cache fails open, logged); /healthz says so."""

import logging
import socket

import pytest
from django.urls import reverse

from accounts.models import ApiKey, hash_api_key
from billing_portal.common import cache as fail_open_cache
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    settings.REDIS_URL = url
    # Production's sign-in throttling (the test settings switch allauth's off), so sign-in really uses the cache.
    from billing_portal.settings import base

    settings.ACCOUNT_RATE_LIMITS = base.ACCOUNT_RATE_LIMITS
    fail_open_cache.reset()
    yield url
    fail_open_cache.reset()


def test_sign_in_and_pages_work_while_redis_is_down_and_a_warning_is_logged(
    client, tenant, owner, redis_down, caplog
):
    with caplog.at_level(logging.WARNING, logger="billing_portal.common.cache"):
        response = client.post(reverse("account_login"), {"login": owner.email, "password": DEFAULT_PASSWORD})
        assert response.status_code == 302
        assert client.get(reverse("home")).wsgi_request.user == owner
        for name in ("billing_dashboard", "billing_information", "contract"):
            page = client.get(reverse(name, args=[tenant.slug]))
            assert page.status_code == 200, name
        # The credit-code form is rate limited through the cache too: it answers (fails open) instead of a 500.
        response = client.post(
            reverse("credit_code_register", args=[tenant.slug]), {"code": "AAAA-BBBB-CCCC-DDDD"}
        )
        assert response.status_code in (200, 302)
    assert any("Redis cache unavailable" in r.getMessage() for r in caplog.records)


def test_wrong_password_is_still_refused_while_redis_is_down(client, redis_down):
    user = UserFactory()
    response = client.post(reverse("account_login"), {"login": user.email, "password": "wrong"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_operator_api_works_while_redis_is_down(client, tenant, redis_down):
    raw = ApiKey.generate_raw_key()
    ApiKey.objects.create(name="ops", scope="platform", prefix=raw[:8], key_hash=hash_api_key(raw))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    response = client.get(f"/api/v1/tenants/{tenant.slug}/", **auth)
    assert response.status_code == 200, response.content
    assert response.json()["plan"]["code"] == "free"
    response = client.get(f"/api/v1/tenants/{tenant.slug}/mau?month=2026-04", **auth)
    assert response.status_code == 200 and response.json()["mau"] == 0


def test_healthz_reports_each_dependency_and_readyz_stays_ready(client, redis_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "down" and "Connection" in body["checks"]["redis"]["error"]
    assert set(body["checks"]) == {"database", "redis", "stripe"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_healthz_all_ok(client, settings):
    from billing_portal.common import health

    health.forget_stripe_result()
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "redis": "ok",
        "stripe": "ok",
    }


def test_healthz_reports_stripe_unreachable(client, settings):
    from billing_portal.common import health

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    health.forget_stripe_result()
    response = client.get("/healthz")
    health.forget_stripe_result()
    assert response.status_code == 503
    assert response.json()["checks"]["stripe"]["status"] == "down"
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_ingest_that_raises_the_mau_alert_answers_while_the_broker_is_down(client, caplog, mailoutbox):
    """The alert's e-mail task cannot be queued: the request still answers 200 and the e-mail goes out inline."""
    import json

    import time_machine

    from billing_portal.celery import app
    from metering.models import MauAlert, MauAlertSetting
    from tests.factories import TenantFactory
    from tests.metering.factories import auth, event, make_api_key, make_rps

    tenant = TenantFactory()
    make_rps(tenant, "login.example.com")
    raw = make_api_key(tenant=tenant)
    MauAlertSetting.objects.update_or_create(
        tenant=tenant, defaults={"notify_representative": True, "threshold": 1}
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    saved = {name: app.conf[name] for name in ("task_always_eager", "broker_url")}

    def drop_connections():  # look the pools up again by the broker URL (kombu keeps one per URL; none closed)
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.task_always_eager = False
    app.conf.broker_url = f"redis://127.0.0.1:{port}/0"
    drop_connections()
    try:
        with time_machine.travel("2026-11-20T03:00:00Z", tick=False), caplog.at_level(logging.WARNING):
            response = client.post(
                f"/api/v1/tenants/{tenant.slug}/auth-events",
                json.dumps({"events": [event("e1", "alice", "2026-11-02T10:00:00Z")]}),
                content_type="application/json",
                **auth(raw),
            )
    finally:
        app.conf.update(saved)
        drop_connections()
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert MauAlert.objects.get(tenant=tenant).notified_at is not None
    assert any("broker unavailable" in r.getMessage() for r in caplog.records)
    assert any("MAU" in m.subject for m in mailoutbox)
