"""The OpenAPI 3.1 document at /api/v1/openapi.json describes every endpoint of the operator API with its request
and response models and the error model, and the docs page at /api/v1/docs loads only this site's assets."""

import re

import pytest

from tests.common.test_templates_csp import INLINE_HANDLER, INLINE_SCRIPT

# The contract (docs/api.md): method, path → the request body model (None: no body).
CONTRACT = {
    ("get", "/api/v1/whoami"): None,
    ("post", "/api/v1/tenants/{tenant}/auth-events"): "AuthEventBatchIn",
    ("get", "/api/v1/tenants/{tenant}/mau"): None,
    ("get", "/api/v1/tenants/{tenant}/mau/evidence"): None,
    ("get", "/api/v1/tenants/{tenant}/daily-actives"): None,
    ("get", "/api/v1/tenants/{tenant}/usage"): None,
    ("get", "/api/v1/tenants/{tenant}/units/date/{day}"): None,
    ("get", "/api/v1/tenants/{tenant}/units/month/{month}"): None,
    ("put", "/api/v1/tenants/{tenant}/units/{unit}/timestamp/{timestamp}"): "MeterReadingIn",
    ("put", "/api/v1/tenants/{tenant}/units/{unit}/now"): "MeterReadingIn",
    ("delete", "/api/v1/tenants/{tenant}/units/{unit}/timestamp/{timestamp}"): None,
    ("get", "/api/v1/tenants/{tenant}/units/{unit}/date/{day}"): None,
    ("get", "/api/v1/tenants/{tenant}/units/{unit}/today"): None,
    ("get", "/api/v1/tenants/{tenant}/units/{unit}/month/{month}"): None,
    ("get", "/api/v1/tenants/{tenant}/units/{unit}/thismonth"): None,
    ("post", "/api/v1/tenants/{tenant}/rps"): "RelyingPartyIn",
    ("post", "/api/v1/tenants/{tenant}/users"): "EndUserIn",
    ("get", "/api/v1/tenants/{tenant}/"): None,
    ("put", "/api/v1/tenants/{tenant}/plan"): "PlanUpdateIn",
    ("delete", "/api/v1/tenants/{tenant}/plan/reservation"): None,
    ("get", "/api/v1/tenants/{tenant}/invoices"): None,
    ("get", "/api/v1/tenants/{tenant}/invoices/upcoming"): None,
    ("get", "/api/v1/tenants/{tenant}/invoices/{receipt_id}/receipt.pdf"): None,
    ("get", "/api/v1/tenants/{tenant}/invoices/{identifier}/invoice.pdf"): None,
}
IDEMPOTENT = {
    ("put", "/api/v1/tenants/{tenant}/units/{unit}/timestamp/{timestamp}"),
    ("put", "/api/v1/tenants/{tenant}/units/{unit}/now"),
    ("put", "/api/v1/tenants/{tenant}/plan"),
    ("post", "/api/v1/tenants/{tenant}/rps"),
    ("post", "/api/v1/tenants/{tenant}/users"),
}


@pytest.fixture
def document(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    return response.json()


def test_every_endpoint_of_the_contract_is_described(document):
    assert document["openapi"] == "3.1.0"
    operations = {(method, path): op for path, ops in document["paths"].items() for method, op in ops.items()}
    assert set(operations) == set(CONTRACT)
    schemas = document["components"]["schemas"]
    assert schemas["ErrorOut"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message"}
    assert document["components"]["securitySchemes"] == {"ApiKeyAuth": {"type": "http", "scheme": "bearer"}}
    for (method, path), op in operations.items():
        where = f"{method.upper()} {path}"
        assert op["security"] == [{"ApiKeyAuth": []}], where
        assert op.get("description"), where
        body = CONTRACT[(method, path)]
        if body is None:
            assert "requestBody" not in op, where
        else:
            assert op["requestBody"]["content"]["application/json"]["schema"] == {
                "$ref": f"#/components/schemas/{body}"
            }, where
        success = [s for s in op["responses"] if str(s).startswith("2")]
        assert len(success) == 1, where
        content = op["responses"][success[0]]["content"]
        media = (
            "application/pdf"
            if path.endswith(".pdf")
            else "text/csv"
            if path.endswith("/mau/evidence")
            else "application/json"
        )
        assert list(content) == [media], where
        errors = [s for s in op["responses"] if not str(s).startswith("2")]
        assert "401" in errors, where
        for status in errors:
            assert op["responses"][status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorOut"
            }, (where, status)
        headers = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
        assert headers == (["Idempotency-Key"] if (method, path) in IDEMPOTENT else []), where
        if (method, path) in IDEMPOTENT:
            assert {"409", "422"} <= set(errors), where
        for name in re.findall(r"{(\w+)}", path):
            assert any(p["in"] == "path" and p["name"] == name for p in op["parameters"]), (where, name)


def test_request_models_carry_their_limits(document):
    schemas = document["components"]["schemas"]
    events = schemas["AuthEventBatchIn"]["properties"]["events"]
    assert events["maxItems"] == 10_000 and events["items"] == {"$ref": "#/components/schemas/AuthEventIn"}
    count = schemas["MeterReadingIn"]["properties"]["count"]
    assert (count["minimum"], count["maximum"]) == (0, 2**63 - 1)
    assert schemas["MeterReadingIn"]["properties"]["method"]["enum"] == ["add", "sub", "direct"]
    assert schemas["EndUserIn"]["properties"]["user_id"]["maxLength"] == 255
    assert schemas["PlanUpdateIn"]["properties"]["when"]["enum"] == ["now", "next_period"]


def test_the_docs_page_is_served_from_this_site_without_inline_script(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert not INLINE_HANDLER.search(html) and not INLINE_SCRIPT.search(html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= 4 and all(a.startswith("/static/") for a in assets), assets
    for asset in assets:
        from django.contrib.staticfiles import finders

        assert finders.find(asset.removeprefix("/static/")), asset
