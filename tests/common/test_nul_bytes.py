"""A NUL byte anywhere in a query string or form is a 400 with a reason on every URL, never a 500."""

from django.urls import reverse


def test_nul_bytes_in_pages_are_refused_with_400(owner_client, tenant):
    for name, params in [
        ("support_change", {"plan": "a\x00b"}),
        ("license_change", {"plan": "a\x00b"}),
        ("license_change", {"plan": "business", "promotion_code": "a\x00"}),
        ("promotion_code_confirm", {"promotion_code": "\x00x"}),
        ("billing_information", {"period": "\x00"}),
    ]:
        response = owner_client.get(reverse(name, args=[tenant.slug]), params)
        assert response.status_code == 400 and "NUL character" in response.content.decode(), name
    response = owner_client.post(reverse("credit_code_register", args=[tenant.slug]), {"code": "AB\x00CD"})
    assert response.status_code == 400


def test_nul_bytes_in_the_api_query_are_a_json_400(client, tenant):
    response = client.get(
        f"/api/v1/tenants/{tenant.slug}/mau", {"month": "2026-\x0001"}, HTTP_AUTHORIZATION="Bearer x"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
