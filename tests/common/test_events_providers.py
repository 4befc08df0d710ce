"""The two ways a lower app reaches a higher one without importing it (docs/architecture.md)."""

import pytest
from django.db import transaction

from accounts.models import Tenant
from accounts.services import tenant_create
from billing_portal.common import events, providers
from licenses.models import License
from ops.models import EventType, WebhookEndpoint, WebhookEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_new_tenant_gets_its_free_license_and_its_webhook_in_the_same_transaction():
    WebhookEndpoint.objects.create(url="https://hooks.example.com/x", events=[EventType.TENANT_CREATED])
    owner = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        tenant_create(owner=owner, name="Rolled Back K.K.")
        raise RuntimeError("the signup fails after the tenant was created")
    assert not Tenant.objects.filter(name="Rolled Back K.K.").exists()
    assert not WebhookEvent.objects.exists()

    tenant = tenant_create(owner=owner, name="Kept K.K.")
    assert License.objects.get(tenant=tenant).plan.is_free
    assert list(WebhookEvent.objects.values_list("type", flat=True)) == ["tenant.created"]


def test_a_subscriber_that_fails_rolls_the_change_back():
    def broken(**kwargs):
        raise ValueError("subscriber failed")

    events.subscribe(broken, types={"tenant.created"})
    try:
        with pytest.raises(ValueError, match="subscriber failed"):
            tenant_create(owner=UserFactory(), name="Never K.K.")
    finally:
        events._subscribers[:] = [entry for entry in events._subscribers if entry[1] is not broken]
    assert not Tenant.objects.filter(name="Never K.K.").exists()


def test_every_declared_provider_is_provided_by_an_installed_app():
    missing = [name for name in providers.DECLARED if name not in providers._provided]
    assert missing == []


def test_an_undeclared_provider_is_refused():
    with pytest.raises(KeyError, match="not declared"):
        providers.provide("something_else", lambda **kw: None)
