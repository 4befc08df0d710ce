"""Ops in the browser search the e-bookkeeping archive by issue date range, amount range and counterparty, export
the result as CSV and download a stored PDF, in English and in Japanese (docs/archive.md)."""

import csv
import hashlib
import io
import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect

from payments.invoicing.documents import invoice_issue
from payments.models import ArchivedDocument
from tests.e2e.conftest import ARTIFACTS
from tests.factories import DEFAULT_PASSWORD, TenantFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("STRIPE_API_BASE"), reason="needs the Stripe stand-in (make test starts it)"
    ),
]
TOKYO = ZoneInfo("Asia/Tokyo")


def _issue(tenant, key, when, amount):
    with time_machine.travel(when, tick=False):
        return invoice_issue(
            tenant=tenant,
            kind="monthly",
            source_key=key,
            billing_date=when.date(),
            lines=[{"description": "Business license", "amount": amount}],
        )


def _sign_in(page, user):
    page.goto("/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _search(page, **values):
    form = page.locator("form[data-archive-search]")
    for name, value in values.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("input[type=submit]").click()
    page.wait_for_load_state()


def test_ops_search_export_and_download_archived_documents(page, browser, live_server):
    acme = TenantFactory(name="株式会社アクメ")
    beta = TenantFactory(name="ベータ商事株式会社")
    april = _issue(acme, "acme-april", datetime(2027, 4, 1, 9, tzinfo=TOKYO), 25_000)  # ¥27,500 incl. tax
    _issue(acme, "acme-may", datetime(2027, 5, 1, 9, tzinfo=TOKYO), 5_000)
    _issue(beta, "beta-april", datetime(2027, 4, 15, 9, tzinfo=TOKYO), 30_000)
    assert ArchivedDocument.objects.count() == 3  # archived by the task after each issue's commit
    document = ArchivedDocument.objects.get(invoice=april)
    staff = UserFactory(email="ops@example.test", is_staff=True, is_superuser=True)

    _sign_in(page, staff)
    page.goto("/admin/payments/archiveddocument/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    _search(page, issued_from="2027-04-01", issued_to="2027-04-30", amount_min="20000", counterparty="アクメ")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(april.number)
    expect(rows.first).to_contain_text("¥27,500")

    with page.expect_download() as exported:
        page.get_by_role("link", name="Export CSV (this search)").click()
    data = open(exported.value.path(), "rb").read()
    assert data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[1] == [
        "Invoice",
        april.number,
        "2027-04-01",
        "株式会社アクメ",
        "27500",
        "JPY",
        document.sha256,
    ]
    assert len(table) == 2

    with page.expect_download() as downloaded:
        rows.first.get_by_role("link", name="Download").click()
    pdf = open(downloaded.value.path(), "rb").read()
    assert hashlib.sha256(pdf).hexdigest() == document.sha256 and pdf == bytes(document.pdf)

    # The same search in Japanese.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url, locale="ja-JP"
    )
    japanese = context.new_page()
    try:
        _sign_in(japanese, staff)
        japanese.goto("/admin/payments/archiveddocument/?issued_from=2027-04-01&issued_to=2027-04-30")
        expect(japanese.locator("#result_list tbody tr")).to_have_count(2)
        expect(japanese.locator("#changelist-filter")).to_contain_text("発行日・金額・取引先 で絞り込む")
        expect(japanese.get_by_role("link", name="CSVエクスポート（この検索条件）")).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        japanese.screenshot(path=str(ARTIFACTS / "archive_admin_ja.png"), full_page=True)
    finally:
        context.close()
    assert date(2027, 4, 1) == document.issue_date
