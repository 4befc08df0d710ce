"""Streamed CSV exports: the period, the admin list's filters, test tenants left out, and bounded memory."""

import csv
import io
import tracemalloc
from datetime import date

import pytest
import time_machine

from ops.models import TestClock
from payments.invoicing.credits import credit_grant
from payments.models import Credit, InvoiceLine, Payment
from tests.factories import TenantFactory
from tests.licenses.conftest import jst
from tests.ops.test_revenue import _invoice

pytestmark = pytest.mark.django_db


def _rows(response):
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def invoices():
    a = TenantFactory(name='=HYPERLINK("http://evil")', slug="alpha")
    b = TenantFactory(
        name="Bravo", slug="bravo", currency="USD", country="US", time_zone="America/Los_Angeles"
    )
    test = TenantFactory(name="Test tenant", slug="test-tenant")
    TestClock.objects.create(tenant=test, frozen_time=jst(2027, 3, 1))
    return {
        "a_feb": _invoice(a, day=date(2027, 2, 1), lines=[("Business", 28_000)]),
        "a_mar": _invoice(
            a,
            day=date(2027, 3, 1),
            lines=[("Business", 28_000), ("MAU overage", 500)],
            method="bank_transfer",
        ),
        "b_mar": _invoice(b, day=date(2027, 3, 1), lines=[("Starter", 25_000)]),
        "test_mar": _invoice(test, day=date(2027, 3, 1), lines=[("Enterprise", 150_000)]),
    }


def test_invoices_for_a_period_with_the_admin_lists_filters(admin_client, invoices):
    rows = _rows(admin_client.get("/admin/exports/invoices.csv?from=2027-03-01&to=2027-03-31"))
    assert [r["number"] + "/" + r["tenant"] for r in rows] == [
        f"{invoices['a_mar'].number}/alpha",
        f"{invoices['b_mar'].number}/bravo",
    ]  # no February, no test tenant
    a_mar = rows[0]
    assert (a_mar["payment_amount_minor"], a_mar["tax_amount_minor"], a_mar["currency"]) == (
        "31350",
        "2850",
        "JPY",
    )
    assert a_mar["tenant_name"] == '\'=HYPERLINK("http://evil")'  # never a formula in a spreadsheet
    assert a_mar["issued_at"] == "2027-03-01T09:00:00+09:00"  # the tenant's time zone
    assert rows[1]["issued_at"] == "2027-02-28T16:00:00-08:00"
    # the admin list's own filters and search, by the same query string
    rows = _rows(
        admin_client.get("/admin/exports/invoices.csv?from=2027-03-01&payment_method__exact=bank_transfer")
    )
    assert [r["invoice_id"] for r in rows] == [str(invoices["a_mar"].pk)]
    rows = _rows(admin_client.get("/admin/exports/invoices.csv?q=Bravo"))
    assert [r["invoice_id"] for r in rows] == [str(invoices["b_mar"].pk)]
    rows = _rows(
        admin_client.get("/admin/exports/invoices.csv?billing_date__year=2027&billing_date__month=2")
    )
    assert [r["invoice_id"] for r in rows] == [str(invoices["a_feb"].pk)]
    # the admin list offers the export with its current filters
    listing = admin_client.get(
        "/admin/payments/invoice/?payment_method__exact=bank_transfer"
    ).content.decode()
    assert 'href="/admin/exports/invoices.csv?payment_method__exact=bank_transfer"' in listing


def test_invoice_lines_payments_credits_and_tenants(admin_client, invoices):
    rows = _rows(
        admin_client.get("/admin/exports/invoice-lines.csv?from=2027-03-01&to=2027-03-31&currency__exact=JPY")
    )
    assert [(r["number"], r["description"], r["amount_minor"]) for r in rows] == [
        (invoices["a_mar"].number, "Business", "28000"),
        (invoices["a_mar"].number, "MAU overage", "500"),
    ]
    a = invoices["a_mar"].tenant
    with time_machine.travel(jst(2027, 3, 5, 10), tick=False):
        Payment.objects.create(
            tenant=a,
            invoice=invoices["a_feb"],
            amount_minor=30_800,
            currency="JPY",
            idempotency_key="k1",
            status=Payment.Status.FAILED,
            failure_message="-declined",
        )
        credit_grant(
            tenant=a,
            name="Goodwill",
            amount_minor=1_000,
            currency="JPY",
            source=Credit.Source.MANUAL,
            source_key="c1",
        )
    [payment] = _rows(
        admin_client.get("/admin/exports/payments.csv?from=2027-03-05&to=2027-03-05&status__exact=failed")
    )
    assert (payment["amount_minor"], payment["invoice_number"], payment["failure_message"]) == (
        "30800",
        invoices["a_feb"].number,
        "'-declined",
    )
    assert payment["created_at"] == "2027-03-05T10:00:00+09:00"
    assert _rows(admin_client.get("/admin/exports/payments.csv?from=2027-03-06")) == []
    [credit] = _rows(admin_client.get("/admin/exports/credits.csv?source__exact=manual"))
    assert (credit["tenant"], credit["amount_charged_minor"], credit["amount_used_minor"]) == (
        "alpha",
        "1000",
        "0",
    )
    tenants = _rows(admin_client.get("/admin/exports/tenants.csv?currency__exact=USD"))
    assert [t["slug"] for t in tenants] == ["bravo"]
    assert "test-tenant" not in {t["slug"] for t in _rows(admin_client.get("/admin/exports/tenants.csv"))}


def _export_peak(client, invoice, lines: int) -> tuple[int, int]:
    """(bytes exported, peak bytes allocated while streaming) with `lines` lines on the invoice."""
    have = InvoiceLine.objects.filter(invoice=invoice).count()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice, position=100 + i, description=f"Usage line {i:06d} " + "x" * 60, amount=i
        )
        for i in range(have, lines)
    )
    response = client.get("/admin/exports/invoice-lines.csv")
    assert response.streaming
    tracemalloc.start()
    size = 0
    for chunk in response.streaming_content:
        size += len(chunk)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size, peak


def test_a_large_export_is_streamed_in_bounded_memory(admin_client, invoices):
    """Four times the rows, about the same memory: rows are read a chunk at a time and written as they come."""
    small_size, small_peak = _export_peak(admin_client, invoices["b_mar"], 6_000)
    large_size, large_peak = _export_peak(admin_client, invoices["b_mar"], 24_000)
    assert large_size > 3.9 * small_size and large_size > 3_000_000
    assert large_peak < 1.3 * small_peak, f"peak {small_peak:,} → {large_peak:,} bytes: grows with the export"


def test_exports_are_for_staff_only(client, owner):
    client.force_login(owner)
    assert client.get("/admin/exports/invoices.csv").status_code == 302
    assert client.get("/admin/exports/").status_code == 302


def test_the_exports_page_and_the_admin_index_link_them(admin_client):
    page = admin_client.get("/admin/exports/?from=2027-03-01&to=2027-03-31").content.decode()
    for kind in ("invoices", "invoice-lines", "payments", "credits", "tenants"):
        assert f'href="/admin/exports/{kind}.csv?from=2027-03-01&amp;to=2027-03-31"' in page
    index = admin_client.get("/admin/").content.decode()
    assert 'href="/admin/revenue/"' in index and 'href="/admin/exports/"' in index
