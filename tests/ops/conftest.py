import pytest

from ops.models import WebhookEndpoint
from payments.invoicing import cycle
from tests.ops.receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def endpoint_for(receiver):
    """An enabled endpoint at the test receiver, subscribed to `events`; the receiver knows its secret."""

    def make(*events, url=None):
        endpoint = WebhookEndpoint.objects.create(url=url or receiver.url, events=list(events), enabled=True)
        receiver.secret = endpoint.secret
        return endpoint

    return make


@pytest.fixture(autouse=True)
def _fresh_test_tenant_slugs():
    from ops.middleware import forget_test_tenant_slugs

    forget_test_tenant_slugs()
    yield


@pytest.fixture(autouse=True)
def _fresh_endpoints():
    from ops.outbox import forget_endpoints

    forget_endpoints()
    yield


@pytest.fixture(autouse=True)
def _no_cached_plans_left_behind():
    """The billing cycle keeps priced plans per process for a minute; tests after these ones that add menus to a
    plan must not see a copy cached here."""
    yield

    cycle._plan_cache.clear()
