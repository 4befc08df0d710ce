"""Payments tests talk to the real Stripe stand-in (localstripe) started by scripts/test.py.

Its state is wiped before every test (`DELETE /_config/data`), so tests never see each other's customers.
"""

import urllib.request

import pytest
from django.conf import settings

from .factories import WEBHOOK_SECRET


def _standin_reset():
    request = urllib.request.Request(settings.STRIPE_API_BASE.rstrip("/") + "/_config/data", method="DELETE")
    urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback stand-in


@pytest.fixture(autouse=True)
def _stripe_standin(settings):
    if not settings.STRIPE_API_BASE:
        pytest.skip("the Stripe stand-in is not running (use make test)")
    _standin_reset()
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    yield
