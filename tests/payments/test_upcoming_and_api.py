import json

import time_machine
from django.urls import reverse

from accounts.models import ApiKey, hash_api_key
from licenses.selectors import plan_get
from licenses.services import license_change_now, license_reserve_change
from payments.invoicing.credits import credit_grant
from payments.invoicing.documents import invoice_issue, invoice_status_set
from tests.licenses.conftest import buy, jst


def api(client, path):
    raw = ApiKey.generate_raw_key()
    ApiKey.objects.get_or_create(name="ops", scope="platform", prefix=raw[:8], key_hash=hash_api_key(raw))
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_upcoming_invoice_reflects_the_reservation_prorations_and_credit(client, owner_client, tenant):
    buy(tenant, "starter", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        license_change_now(
            tenant=tenant,
            plan=plan_get(code="business", currency="JPY"),
            proration_behavior="create_prorations",
            by_operator=True,
        )
        license_reserve_change(tenant=tenant, plan=plan_get(code="starter", currency="JPY"))
        credit_grant(
            tenant=tenant,
            name="Goodwill",
            amount_minor=1_000,
            currency="JPY",
            source="manual",
            source_key="gw",
        )
        body = api(client, f"/api/v1/tenants/{tenant.slug}/invoices/upcoming").json()
        # Starter from April (reserved) ¥25,000 + March MAU overage ¥0 + prorations +¥968 − credit ¥1,000.
        assert [line["amount"] for line in body["lines"]] == [25_000, 0, -8_064, 9_032]
        assert (
            body["usage_amount"],
            body["credit_applied"],
            body["determined_amount"],
            body["tax_amount"],
            body["payment_amount"],
        ) == (25_968, 1_000, 24_968, 2_497, 27_465)
        assert body["billing_date"] == "2027-04-01" and body["plan"] == "starter" and body["estimate"] is True
        owner_client.force_login(tenant.representative)
        page = owner_client.get(reverse("billing_dashboard", args=[tenant.slug])).content.decode()
    assert "Next invoice (preview)" in page and "¥27,465" in page and "may differ from the final bill" in page


def test_invoice_list_and_receipt_through_the_api(client, tenant, other_tenant):
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="k",
        billing_date=jst(2027, 4, 1).date(),
        lines=[{"description": "Starter", "amount": 25_000}],
    )
    body = api(client, f"/api/v1/tenants/{tenant.slug}/invoices").json()
    assert body["invoices"][0]["number"] == invoice.number
    assert body["invoices"][0]["payment_amount"] == 27_500
    assert body["invoices"][0]["lines"] == [
        {"description": "Starter", "quantity": "1", "unit_amount": None, "amount": 25_000}
    ]
    pdf = api(client, f"/api/v1/tenants/{tenant.slug}/invoices/{invoice.receipt_id}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    unpaid = api(client, f"/api/v1/tenants/{tenant.slug}/invoices/{invoice.receipt_id}/receipt.pdf")
    assert unpaid.status_code == 404 and json.loads(unpaid.content)["error"]["code"] == "not_paid"
    invoice_status_set(invoice, "successful")
    pdf = api(client, f"/api/v1/tenants/{tenant.slug}/invoices/{invoice.receipt_id}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    foreign = api(client, f"/api/v1/tenants/{other_tenant.slug}/invoices/{invoice.receipt_id}/receipt.pdf")
    assert foreign.status_code == 404 and json.loads(foreign.content)["error"]["code"] == "not_found"


def test_preview_shows_a_zero_quantity_as_zero(owner_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 5), tick=False):
        owner_client.force_login(tenant.representative)
        page = owner_client.get(reverse("billing_dashboard", args=[tenant.slug])).content.decode()
    overage_row = page.split("MAU overage")[1].split("</tr>")[0]
    assert '<td class="num">0</td>' in overage_row
