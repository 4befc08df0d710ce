"""Schemathesis fuzzes the operator API against its own OpenAPI document (/api/v1/openapi.json), in process through
the WSGI app: for every operation, generated valid and invalid requests sent with a platform key and with a
tenant key must never get a 500, every answer must match the schema (status, content type, body), and every
error must be JSON with a code. Examples per operation: FUZZ_EXAMPLES (default 10)."""

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from accounts.models import ApiKey, RelyingParty, hash_api_key
from metering.models import MeteringUnit
from tests.factories import TenantFactory

SLUG = "fuzz"
PLATFORM_KEY = "bp_fuzz-platform-key-not-secret"
TENANT_KEY = "bp_fuzz-tenant-key-not-secret"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))

config = SchemathesisConfig.from_dict(
    {
        "seed": 20261120,  # the same cases on every run; change it (or FUZZ_EXAMPLES) to explore further
        "parameters": {"tenant": SLUG},  # requests reach the tenant's data rather than 404 for a random slug
        # The key is sent by the test itself (below), so no case may count as invalid for lacking it.
        "generation": {"max-examples": EXAMPLES, "mode": "all", "with-security-parameters": False},
        "phases": {"stateful": {"enabled": False}},
        # Not asked of this API: that every schema-valid request succeeds. Valid JSON can still name an unknown
        # plan, a day like 2026-02-30, a limit reached, or an idempotency key used before (4xx with a code).
        "checks": {"positive_data_acceptance": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application(), config=config)


@pytest.fixture
def _keep_the_test_connection():
    """As django.test.Client does: the WSGI handler would close the test's database connection (and its
    transaction) after each request."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_tenant(db, _keep_the_test_connection):
    tenant = TenantFactory(slug=SLUG, name="Fuzz K.K.")
    for name, scope, owner, raw in [
        ("fuzz platform", "platform", None, PLATFORM_KEY),
        ("fuzz tenant", "tenant", tenant, TENANT_KEY),
    ]:
        ApiKey.objects.create(
            name=name, scope=scope, tenant=owner, prefix=raw[:11], key_hash=hash_api_key(raw)
        )
    RelyingParty.objects.create(tenant=tenant, rp_id="login.example.com")
    MeteringUnit.objects.create(unit_name="api_calls", display_name="API calls", aggregation="sum")
    return tenant


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_its_schema_says(case, fuzz_tenant):
    for key in (PLATFORM_KEY, TENANT_KEY):
        response = case.call_and_validate(headers={"Authorization": f"Bearer {key}"})
        assert response.status_code < 500, response.text[:500]
        if response.status_code >= 400:
            error = response.json()["error"]
            assert isinstance(error["code"], str) and error["code"], response.text[:500]
