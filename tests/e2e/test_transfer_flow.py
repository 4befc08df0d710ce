"""Bank transfer in the browser: ops upload a Shift_JIS statement in Django admin, review the proposed matches,
confirm; the right invoices become paid, and the customers see 支払い済み / Paid and download their receipt.
Screenshots: artifacts/e2e/transfer_*.png."""

import pytest
from playwright.sync_api import expect

from payments.invoicing import transfers
from payments.models import BankStatementLine, Invoice
from tests.e2e.conftest import ARTIFACTS
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.payments.test_transfers import transfer_invoice, transfer_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def _sign_in(page, email):
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("form button[type=submit]:not(.link)")
    page.wait_for_load_state()


def _customer_page(browser, live_server, locale):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        base_url=live_server.url,
        locale=locale,
        accept_downloads=True,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def test_ops_upload_a_statement_confirm_matches_and_customers_see_paid(page, browser, live_server, tmp_path):
    acme = transfer_tenant("株式会社アクメ")
    beta = transfer_tenant("Beta K.K.", payer_name="ベータ")
    gamma = transfer_tenant("Gamma K.K.", payer_name="ｶﾞﾝﾏ")
    acme.representative.language = "ja"
    acme.representative.save()
    a = transfer_invoice(acme)  # ¥30,800, due 30 Dec 2026
    b = transfer_invoice(beta, 25_000)  # ¥27,500
    g = transfer_invoice(gamma, 50_000)  # ¥55,000
    reference = acme.bank_transfer_profile.reference
    statement = tmp_path / "nyukin-202612.csv"
    statement.write_bytes(
        (
            "取引日,入金額,出金額,振込依頼人名,残高\n"
            f'2026/12/25,"30,800",,{reference} ｶ)ｱｸﾒ,1030800\n'
            "2026/12/28,２７５００,,ﾍﾞｰﾀ(ｶ,1058300\n"
            "2026/12/28,54340,,ｶﾞﾝﾏ,1112640\n"  # ¥660 short: the fee deducted
            "2026/12/29,,5000,ﾃｽｳﾘﾖｳ,1107640\n"
        ).encode("cp932")
    )

    ops = UserFactory(email="ops@operator.example", is_staff=True, is_superuser=True)
    _sign_in(page, ops.email)
    page.goto("/admin/payments/bankstatement/")
    page.get_by_role("link", name="Upload a bank statement").click()
    expect(page.locator("#statement-layout")).to_contain_text("振込依頼人名")
    page.get_by_label("Bank statement (CSV)").set_input_files(str(statement))
    page.screenshot(path=str(ARTIFACTS / "transfer_upload.png"), full_page=True)
    page.get_by_role("button", name="Upload and review").click()
    expect(page.get_by_text("3 deposits imported.")).to_be_visible()
    expect(page.locator("[data-row-errors]")).to_contain_text("Row 5: no deposit amount")  # the withdrawal
    assert Invoice.objects.filter(status=Invoice.Status.SUCCESSFUL).count() == 0  # nothing before confirm

    rows = page.locator("#proposals tbody tr")
    expect(rows.nth(0)).to_contain_text(a.number)
    expect(rows.nth(0)).to_contain_text("transfer reference")
    expect(rows.nth(1)).to_contain_text("payer name")
    expect(rows.nth(2)).to_contain_text("underpaid by ¥660")
    expect(page.get_by_label("Apply row 2")).to_be_checked()
    expect(page.get_by_label("Apply row 3")).to_be_checked()
    expect(page.get_by_label("Apply row 4")).not_to_be_checked()  # a shortfall waits for ops' judgement
    page.screenshot(path=str(ARTIFACTS / "transfer_review.png"), full_page=True)
    page.get_by_role("button", name="Confirm ticked matches").click()
    expect(page.get_by_text("2 deposits applied. 2 invoices paid.")).to_be_visible()
    expect(rows.nth(0)).to_contain_text("Applied")
    page.screenshot(path=str(ARTIFACTS / "transfer_confirmed.png"), full_page=True)
    for invoice, status in ((a, "successful"), (b, "successful"), (g, "pending")):
        invoice.refresh_from_db()
        assert invoice.status == status, invoice
    a.refresh_from_db()
    assert a.paid_at.isoformat() == "2026-12-24T15:00:00+00:00"  # the statement date, 00:00 in Tokyo

    # The shortfall: ops apply it by hand; the invoice stays open with what was received.
    page.goto("/admin/payments/bankstatementline/?attention=unapplied")
    expect(page.locator("#result_list")).to_contain_text("ｶﾞﾝﾏ")
    page.get_by_role("link", name="Resolve…").click()
    page.get_by_label("Apply to an invoice").check()
    page.locator("#id_invoice").select_option(str(g.pk))
    page.get_by_role("button", name="Save").click()
    expect(
        page.get_by_text(f"¥54,340 recorded on invoice {g.number}; it stays open for the rest.")
    ).to_be_visible()
    assert BankStatementLine.objects.filter(status="unapplied").count() == 0

    # ACME's owner reads Japanese: 支払い済み, and the receipt downloads.
    customer = _customer_page(browser, live_server, "ja-JP")
    _sign_in(customer, acme.representative.email)
    customer.goto(f"/t/{acme.slug}/billing/")
    history = customer.locator("#payment-history")
    expect(history).to_contain_text("支払い済み")
    expect(history).to_contain_text("2026年12月25日")  # paid on the statement date
    expect(customer.locator("[data-bank-transfer]")).to_contain_text(reference)
    with customer.expect_download() as download:
        customer.get_by_role("link", name=a.receipt_id).click()
    assert download.value.suggested_filename == f"receipt-{a.receipt_id}.pdf"
    assert download.value.path().read_bytes()[:5] == b"%PDF-"
    customer.screenshot(path=str(ARTIFACTS / "transfer_customer_paid_ja.png"), full_page=True)
    customer.context.close()

    # Beta's owner reads English: Paid. Gamma's sees what is left to pay.
    customer = _customer_page(browser, live_server, "en-US")
    _sign_in(customer, beta.representative.email)
    customer.goto(f"/t/{beta.slug}/billing/")
    expect(customer.locator("#payment-history")).to_contain_text("Paid")
    customer.screenshot(path=str(ARTIFACTS / "transfer_customer_paid_en.png"), full_page=True)
    customer.context.close()
    customer = _customer_page(browser, live_server, "en-US")
    _sign_in(customer, gamma.representative.email)
    customer.goto(f"/t/{gamma.slug}/billing/")
    expect(customer.locator("[data-transfer-open]")).to_contain_text("¥54,340")
    expect(customer.locator("[data-transfer-open]")).to_contain_text("¥660")
    customer.screenshot(path=str(ARTIFACTS / "transfer_customer_partial_en.png"), full_page=True)
    customer.context.close()
    assert transfers.partial_payments()[0].pk == g.pk


def test_overdue_transfer_banner_on_the_dashboard_in_japanese_and_english(browser, live_server, time_machine):
    acme = transfer_tenant("株式会社アクメ", payer_name="ｶ)ｱｸﾒ")
    invoice = transfer_invoice(acme)  # due 30 Dec 2026
    time_machine.move_to("2027-01-05T01:00:00Z", tick=True)
    for locale, language, texts in (
        ("ja-JP", "ja", ["お支払期限を過ぎた銀行振込", "2026年12月30日"]),
        ("en-US", "en", ["Bank transfer overdue", "2026-12-30"]),
    ):
        acme.representative.language = language
        acme.representative.save()
        page = _customer_page(browser, live_server, locale)
        _sign_in(page, acme.representative.email)
        page.goto(f"/t/{acme.slug}/dashboard/")
        banner = page.locator("[data-transfer-overdue]")
        for text in [*texts, invoice.number, "¥30,800", acme.bank_transfer_profile.reference, "1234567"]:
            expect(banner).to_contain_text(text)
        page.screenshot(path=str(ARTIFACTS / f"transfer_overdue_dashboard_{language}.png"), full_page=True)
        page.context.close()
