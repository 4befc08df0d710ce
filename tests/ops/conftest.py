import pytest

from ops.models import WebhookEndpoint
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
