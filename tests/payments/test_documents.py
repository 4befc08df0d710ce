"""Invoice (請求書, qualified invoice), receipt (領収書) and credit note (適格返還請求書) PDFs, in Japanese and English,
with the bundled font; the registration number check; tax per rate."""

import io
import os
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.checks import Error, Warning
from django.urls import reverse
from pypdf import PdfReader

from billing_portal.common.clock import month_bounds
from payments.charging.cards import payment_method_choose
from payments.checks import invoice_settings_check
from payments.invoicing import pdf
from payments.invoicing.credit_notes import credit_note_issue
from payments.invoicing.credits import credit_grant
from payments.invoicing.documents import invoice_issue, invoice_mark_paid_by_transfer, invoice_status_set
from payments.invoicing.registration import check_digit, registration_number_problem
from payments.invoicing.transfers import transfer_details
from payments.models import Invoice, PaymentMethodType
from tests.factories import TenantFactory

TOKYO = ZoneInfo("Asia/Tokyo")
REGISTRATION = "T7123456789012"  # the test settings' sample (a valid check digit)
# WeasyPrint names an embedded font after its family: the bundle's "BP Noto Sans JP", not a system font's
# ("Noto Sans CJK JP", "DejaVu Sans", …).
BUNDLED_FONTS = {"BP-Noto-Sans-JP", "BP-Noto-Sans-JP-Bold"}


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def pdf_fonts(data: bytes) -> set[str]:
    """BaseFont names of every font the PDF's pages use (embedded subsets are prefixed ABCDEF+)."""
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            names.add(str(font["/BaseFont"]))
            for descendant in font.get("/DescendantFonts", []):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                assert any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")), font
    return names


def monthly(tenant, lines, *, key="m-1", year=2026, month=11, **kw):
    start, end = month_bounds(year, month, tenant.time_zone)
    return invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=key,
        lines=lines,
        billing_date=date(year, month, 1),
        period_start=start,
        period_end=end,
        **kw,
    )


@pytest.fixture
def jp_tenant(db):
    return TenantFactory(
        name="株式会社髙橋商事",
        currency="JPY",
        country="JP",
        time_zone="Asia/Tokyo",
        postal_code="100-0005",
        prefecture="13",
        address="千代田区丸の内1-1-1 ﾃｽﾄﾋﾞﾙ５階",
    )


LINES = [
    {"description": "スタータープラン ライセンス", "amount": 25_000, "quantity": 1, "unit_amount": 25_000}
]


# --- the font ------------------------------------------------------------------------------------------------


def test_japanese_invoice_text_is_extractable_and_only_the_bundled_font_is_embedded(jp_tenant):
    invoice = monthly(jp_tenant, LINES)
    data = pdf.document_pdf(invoice=invoice, kind="invoice", language="ja")
    text = pdf_text(data)
    for expected in [
        "請求書",
        "適格請求書",
        "株式会社髙橋商事",
        "御中",
        "登録番号",
        REGISTRATION,
        "スタータープラン",
    ]:
        assert expected in text, expected
    fonts = pdf_fonts(data)
    assert {name.split("+")[-1] for name in fonts} == BUNDLED_FONTS, fonts


def test_the_fetcher_gives_only_the_bundled_font_files():
    fetcher = pdf.DocumentFetcher()
    assert fetcher.fetch(pdf.FONT_URLS["400"]).read()[:4] == b"OTTO"
    for url in [
        "http://198.51.100.7/track.png",
        "file:///etc/passwd",
        pdf.FONT_URLS["400"] + "/../../../etc/passwd",
        (Path(pdf.FONT_DIR) / "OFL.txt").as_uri(),
        "data:text/plain,hello",
    ]:
        with pytest.raises(pdf.FetchRefused):
            fetcher.fetch(url)


def test_pdf_renders_japanese_without_any_system_font(tmp_path):
    """In a process whose fontconfig knows no font at all, the bundled font still renders every glyph."""
    (tmp_path / "fonts.conf").write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<cachedir>{tmp_path}/cache</cachedir></fontconfig>"
    )
    script = (
        "import django, sys; django.setup()\n"
        "from payments.invoicing import pdf\n"
        "html = '<html><head><style>' + pdf.font_face_css() + 'body{font-family:\"BP Noto Sans JP\"}</style>'"
        " + '</head><body><p>請求書 株式会社髙橋商事 御中 〒100-0005 ¥24,032〜 ﾃｽﾄ ＡＢＣ</p></body></html>'\n"
        "sys.stdout.buffer.write(pdf.render_pdf(html))\n"
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(tmp_path / "fonts.conf")}
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], env=env, capture_output=True, check=True, timeout=180
    )
    assert result.stdout.startswith(b"%PDF")
    assert "請求書 株式会社髙橋商事 御中 〒100-0005 ¥24,032〜 ﾃｽﾄ ＡＢＣ" in pdf_text(result.stdout)
    assert {name.split("+")[-1] for name in pdf_fonts(result.stdout)} == {"BP-Noto-Sans-JP"}


def test_documents_fetch_nothing_but_the_font_and_escape_user_text(jp_tenant):
    jp_tenant.name = '<img src="http://198.51.100.7/track.png"> Evil & Co'
    jp_tenant.save()
    invoice = monthly(jp_tenant, LINES)
    html = pdf.document_html(invoice=invoice, kind="invoice")
    assert "&lt;img" in html and "<img" not in html
    with mock.patch.object(pdf, "refuse_fetch", side_effect=AssertionError("fetched")) as refused:
        data = pdf.document_pdf(invoice=invoice, kind="invoice")
    refused.assert_not_called()
    assert "Evil & Co" in pdf_text(data)


# --- the registration number ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "corporate_number",
    # Published examples: 財務省令 worked example, two companies' corporate numbers (国税庁 法人番号公表サイト).
    ["7123456789012", "4011001098993", "2120901007402"],
)
def test_check_digit_of_known_corporate_numbers(corporate_number):
    assert check_digit(corporate_number[1:]) == int(corporate_number[0])
    assert registration_number_problem("T" + corporate_number) is None


def test_check_digit_is_never_zero_and_catches_one_wrong_digit():
    assert check_digit("000000000000") == 9  # remainder 0 → 9, never 0
    assert registration_number_problem("T8123456789012")  # wrong check digit
    assert registration_number_problem("T7123456789013")  # a wrong base digit
    for malformed in [
        "7123456789012",
        "T712345678901",
        "T71234567890123",
        "t7123456789012",
        "T712345678901X",
    ]:
        assert registration_number_problem(malformed), malformed


def test_system_check_errors_on_a_bad_number_and_warns_when_unset(settings):
    settings.INVOICE_REGISTRATION_NUMBER = REGISTRATION
    assert invoice_settings_check() == []
    settings.INVOICE_REGISTRATION_NUMBER = "T8123456789012"
    assert [(type(p), p.id) for p in invoice_settings_check()] == [(Error, "payments.E001")]
    settings.INVOICE_REGISTRATION_NUMBER = ""
    assert [(type(p), p.id) for p in invoice_settings_check()] == [(Warning, "payments.W001")]
    settings.INVOICE_REGISTRATION_NUMBER = REGISTRATION
    settings.INVOICE_TAX_ROUNDING = "banker"
    assert [p.id for p in invoice_settings_check()] == ["payments.E002"]


def test_an_invalid_number_is_never_printed(jp_tenant, settings):
    settings.INVOICE_REGISTRATION_NUMBER = "T8123456789012"
    text = pdf_text(pdf.document_pdf(invoice=monthly(jp_tenant, LINES), kind="invoice"))
    assert "T8123456789012" not in text and "登録番号" not in text


# --- the invoice (請求書) ---------------------------------------------------------------------------------------


def test_japanese_qualified_invoice_carries_every_item(jp_tenant):
    credit_grant(
        tenant=jp_tenant,
        name="ダウングレード",
        amount_minor=968,
        currency="JPY",
        source="proration",
        source_key="p",
    )
    invoice = monthly(jp_tenant, LINES)
    text = pdf_text(pdf.document_pdf(invoice=invoice, kind="invoice"))  # the tenant's language: ja (default)
    for expected in [
        "請求書",
        "適格請求書",
        "株式会社髙橋商事 御中",
        "〒100-0005 東京都千代田区丸の内1-1-1",
        "Example FIDO2 Service K.K.",
        f"登録番号: {REGISTRATION}",
        invoice.number,
        "発行日",
        "2026年11月分",
        "2026年11月1日〜2026年11月30日",
        "スタータープラン ライセンス",
        "¥25,000",
        "-¥968",
        "10%対象",
        "¥24,032",
        "¥2,403",
        "¥26,435",
    ]:
        assert expected in text, (expected, text)
    assert "2026年12月1日" not in text  # the period's end is the last day included


def test_english_invoice(jp_tenant):
    jp_tenant.document_language = "en"
    jp_tenant.save()
    invoice = monthly(jp_tenant, LINES)
    text = pdf_text(pdf.document_pdf(invoice=invoice, kind="invoice"))
    for expected in [
        "Invoice",
        "Qualified invoice",
        "株式会社髙橋商事",
        f"Registration number: {REGISTRATION}",
        "November 2026",
        "Nov 1, 2026 – Nov 30, 2026",
        "10% items",
        "¥27,500",
    ]:
        assert expected in text, (expected, text)
    assert "御中" not in text and "請求書" not in text.replace("適格請求書", "")
    assert "請求書" in pdf_text(pdf.document_pdf(invoice=invoice, kind="invoice", language="ja"))


def test_bank_transfer_invoice_shows_due_date_account_and_reference(jp_tenant):
    payment_method_choose(tenant=jp_tenant, method=PaymentMethodType.BANK_TRANSFER, billing_address="Tokyo")
    invoice = monthly(jp_tenant, LINES, payment_method=Invoice.PaymentMethod.BANK_TRANSFER)
    assert invoice.due_date == date(2026, 11, 30)
    reference = transfer_details(tenant=jp_tenant)["reference"]
    text = pdf_text(pdf.document_pdf(invoice=invoice, kind="invoice"))
    for expected in [
        "お支払期限 2026年11月30日",
        "お振込先",
        "サンプル銀行 (9999)",
        "本店営業部 (001)",
        "1234567",
        "ｶ)ｴｸﾞｻﾞﾝﾌﾟﾙ",
        f"振込参照番号 {reference}",
    ]:
        assert expected in text, (expected, text)
    card = monthly(jp_tenant, LINES, key="card", month=12)
    assert "サンプル銀行" not in pdf_text(pdf.document_pdf(invoice=card, kind="invoice"))


# --- tax per rate (golden figures computed by hand) ----------------------------------------------------------

MIXED_JPY = [
    {"description": "ライセンス", "amount": 25_000},
    {"description": "書籍（軽減税率）", "amount": 3_333, "tax_category": "reduced"},
    {"description": "サポート", "amount": 1_001},
]


@pytest.mark.parametrize(
    ("rounding", "tax_10", "tax_8", "payment"),
    # 10%: 26,001 − 4,432 credit = 21,569 → 2,156.9; 8%: 3,333 − 568 credit = 2,765 → 221.2
    [("half_up", 2_157, 221, 26_712), ("floor", 2_156, 221, 26_711), ("ceil", 2_157, 222, 26_713)],
)
def test_mixed_rates_jpy_with_credit(jp_tenant, settings, rounding, tax_10, tax_8, payment):
    settings.INVOICE_TAX_ROUNDING = rounding
    credit_grant(
        tenant=jp_tenant, name="Code", amount_minor=5_000, currency="JPY", source="manual", source_key="c"
    )
    invoice = monthly(jp_tenant, MIXED_JPY)
    # Credit 5,000 shared 26,001 : 3,333 → 4,431.8 / 568.2 → 4,432 / 568 (largest remainder).
    assert invoice.tax_breakdown == [
        {"rate": "0.10", "lines_amount": 26_001, "credit": 4_432, "taxable": 21_569, "tax": tax_10},
        {"rate": "0.08", "lines_amount": 3_333, "credit": 568, "taxable": 2_765, "tax": tax_8},
    ]
    assert (invoice.usage_amount, invoice.credit_applied, invoice.determined_amount) == (
        29_334,
        5_000,
        24_334,
    )
    assert (invoice.tax_amount, invoice.payment_amount) == (tax_10 + tax_8, payment)
    assert [line.tax_rate for line in invoice.lines.all()] == [
        Decimal("0.10"),
        Decimal("0.08"),
        Decimal("0.10"),
    ]


def test_mixed_rates_usd_with_credit_and_the_pdf(db):
    tenant = TenantFactory(currency="USD", country="US", document_language="en")
    credit_grant(
        tenant=tenant, name="Welcome", amount_minor=1_000, currency="USD", source="manual", source_key="c"
    )
    lines = [
        {"description": "Base fee", "amount": 4_999},
        {"description": "Printed manual", "amount": 1_250, "tax_category": "reduced"},
    ]
    invoice = monthly(tenant, lines)
    # $10.00 credit shared 4,999 : 1,250 → 800 / 200; 10% of 4,199 = 419.9 → 420; 8% of 1,050 = 84.
    assert invoice.tax_breakdown == [
        {"rate": "0.10", "lines_amount": 4_999, "credit": 800, "taxable": 4_199, "tax": 420},
        {"rate": "0.08", "lines_amount": 1_250, "credit": 200, "taxable": 1_050, "tax": 84},
    ]
    assert (invoice.determined_amount, invoice.tax_amount, invoice.payment_amount) == (5_249, 504, 5_753)
    text = pdf_text(pdf.document_pdf(invoice=invoice, kind="invoice"))
    for expected in [
        "10% items $41.99 $4.20",
        "8% items ※ $10.50 $0.84",
        "Printed manual ※",
        "$57.53",
        "Reduced",
    ]:
        assert expected in text, (expected, text)


def test_japanese_invoice_shows_each_rate_and_marks_reduced_lines(jp_tenant):
    text = pdf_text(pdf.document_pdf(invoice=monthly(jp_tenant, MIXED_JPY), kind="invoice"))
    for expected in ["10%対象 ¥26,001 ¥2,600", "8%対象 ※ ¥3,333 ¥267", "書籍（軽減税率） ※", "軽減税率"]:
        assert expected in text, (expected, text)


def test_reduced_pricing_units_put_their_rate_on_the_invoice_lines(db):
    from licenses.models import PricingUnit
    from licenses.pricing import unit_line
    from payments.invoicing.cycle import _as_invoice_line

    unit = PricingUnit(
        unit_name="book",
        display_name="Book",
        type="fixed",
        currency="JPY",
        unit_amount=1_000,
        tax_category="reduced",
    )
    assert _as_invoice_line(unit_line(unit, tiers=[]), "license")["tax_category"] == "reduced"
    unit.tax_category = "standard"
    assert "tax_category" not in _as_invoice_line(unit_line(unit, tiers=[]), "license")


# --- the receipt (領収書) ---------------------------------------------------------------------------------------


def test_no_receipt_before_payment_then_a_receipt_of_the_card_payment(jp_tenant, client):
    invoice = monthly(jp_tenant, LINES)
    with pytest.raises(pdf.DocumentNotAvailable):
        pdf.document_pdf(invoice=invoice, kind="receipt")
    client.force_login(jp_tenant.representative)
    receipt_url = reverse("receipt_download", args=[jp_tenant.slug, invoice.receipt_id])
    assert client.get(receipt_url).status_code == 404
    page = client.get(reverse("billing_information", args=[jp_tenant.slug])).content.decode()
    assert reverse("invoice_document", args=[jp_tenant.slug, invoice.number]) in page
    assert receipt_url not in page

    invoice_status_set(invoice, Invoice.Status.SUCCESSFUL, paid_at=datetime(2026, 11, 5, 10, tzinfo=TOKYO))
    data = client.get(receipt_url)
    assert data.status_code == 200 and data["Content-Type"] == "application/pdf"
    text = pdf_text(data.content)
    for expected in [
        "領収書",
        "株式会社髙橋商事 御中",
        "¥27,500",
        "支払日",
        "2026年11月5日",
        "カード",
        invoice.number,
    ]:
        assert expected in text, (expected, text)
    assert receipt_url in client.get(reverse("billing_information", args=[jp_tenant.slug])).content.decode()


def test_receipt_of_a_bank_transfer_in_english(jp_tenant):
    jp_tenant.document_language = "en"
    jp_tenant.save()
    payment_method_choose(tenant=jp_tenant, method=PaymentMethodType.BANK_TRANSFER, billing_address="Tokyo")
    invoice = monthly(jp_tenant, LINES, payment_method=Invoice.PaymentMethod.BANK_TRANSFER)
    paid_at = datetime(2026, 11, 25, tzinfo=TOKYO)
    invoice = invoice_mark_paid_by_transfer(invoice=invoice, paid_at=paid_at)
    text = pdf_text(pdf.document_pdf(invoice=invoice, kind="receipt"))
    for expected in [
        "Receipt",
        "Amount received",
        "¥27,500",
        "Nov 25, 2026",
        "Invoice (bank transfer)",
        invoice.number,
    ]:
        assert expected in text, (expected, text)


# --- the credit note (適格返還請求書) ---------------------------------------------------------------------------


def test_credit_note_is_a_return_invoice_per_rate_referring_to_the_original(jp_tenant):
    invoice = monthly(jp_tenant, MIXED_JPY)
    note = credit_note_issue(invoice=invoice, amount=10_000, reason="二重請求の訂正")
    # 10,000 shared 26,001 : 3,333 → 8,864 / 1,136; tax 886.4 → 886, 90.88 → 91.
    assert note.credited_invoice == invoice
    assert note.tax_breakdown == [
        {"rate": "0.10", "lines_amount": -8_864, "credit": 0, "taxable": -8_864, "tax": -886},
        {"rate": "0.08", "lines_amount": -1_136, "credit": 0, "taxable": -1_136, "tax": -91},
    ]
    assert (note.usage_amount, note.tax_amount, note.payment_amount) == (-10_000, -977, -10_977)
    with pytest.raises(pdf.DocumentNotAvailable):
        pdf.document_pdf(invoice=note, kind="invoice")
    text = pdf_text(pdf.document_pdf(invoice=note, kind="credit_note"))
    for expected in [
        "返還請求書",
        "適格返還請求書",
        f"元の請求書 {invoice.number}",
        "2026年11月分",
        f"登録番号: {REGISTRATION}",
        "10%対象 ¥8,864 ¥886",
        "8%対象 ※ ¥1,136 ¥91",
        "¥10,977",
        "二重請求の訂正",
    ]:
        assert expected in text, (expected, text)
    english = pdf_text(pdf.document_pdf(invoice=note, kind="credit_note", language="en"))
    for expected in [
        "Credit note",
        "Qualified return invoice",
        f"Original invoice {invoice.number}",
        "¥10,977",
    ]:
        assert expected in english, (expected, english)
    assert "御中" not in english


def test_single_rate_credit_note_keeps_its_one_line_and_tax(jp_tenant):
    invoice = monthly(jp_tenant, LINES)
    note = credit_note_issue(invoice=invoice, amount=1_005, reason="値引き")
    assert [(line.amount, line.tax_rate) for line in note.lines.all()] == [(-1_005, Decimal("0.10"))]
    assert (note.tax_amount, note.payment_amount) == (-101, -1_106)  # 100.5 → 101 (half-up)


# --- pages and API ---------------------------------------------------------------------------------------------


def test_invoice_pdf_page_by_number_or_receipt_id_is_tenant_scoped(jp_tenant, other_tenant, client):
    invoice = monthly(jp_tenant, LINES)
    client.force_login(jp_tenant.representative)
    for identifier in (invoice.number, invoice.receipt_id):
        response = client.get(reverse("invoice_document", args=[jp_tenant.slug, identifier]))
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert f'filename="invoice-{invoice.number}.pdf"' in response["Content-Disposition"]
        assert "請求書" in pdf_text(response.content)
    client.force_login(other_tenant.representative)
    assert (
        client.get(reverse("invoice_document", args=[other_tenant.slug, invoice.number])).status_code == 404
    )


def test_operator_api_invoice_and_receipt_pdfs(client, jp_tenant, other_tenant):
    from tests.payments.test_upcoming_and_api import api

    invoice = monthly(jp_tenant, LINES)
    base = f"/api/v1/tenants/{jp_tenant.slug}/invoices"
    response = api(client, f"{base}/{invoice.number}/invoice.pdf")
    assert response.status_code == 200 and "請求書" in pdf_text(response.content)
    english = api(client, f"{base}/{invoice.receipt_id}/invoice.pdf?language=en")
    assert "Qualified invoice" in pdf_text(english.content)
    unpaid = api(client, f"{base}/{invoice.receipt_id}/receipt.pdf")
    assert unpaid.status_code == 404 and unpaid.json()["error"]["code"] == "not_paid"
    foreign = api(client, f"/api/v1/tenants/{other_tenant.slug}/invoices/{invoice.number}/invoice.pdf")
    assert foreign.status_code == 404


def test_document_language_is_edited_with_the_customer_information(jp_tenant, client):
    client.force_login(jp_tenant.representative)
    url = reverse("customer_edit", args=[jp_tenant.slug])
    data = {
        "name": jp_tenant.name,
        "postal_code": "100-0005",
        "prefecture": "13",
        "address": "x",
        "phone": "",
    }
    response = client.post(url, {**data, "country": "JP", "document_language": "en"})
    assert response.status_code == 302
    jp_tenant.refresh_from_db()
    assert jp_tenant.document_language == "en"
    assert client.post(url, {**data, "country": "JP"}).status_code == 302  # not sent: kept as it is
    jp_tenant.refresh_from_db()
    assert jp_tenant.document_language == "en"


def test_the_invoice_issued_email_links_the_invoice_pdf(jp_tenant):
    from django.core import mail

    from payments.notifications import notify_invoice_issued

    invoice = monthly(jp_tenant, LINES)
    mail.outbox.clear()
    notify_invoice_issued(invoice=invoice)
    path = reverse("invoice_document", args=[jp_tenant.slug, invoice.number])
    assert path in mail.outbox[0].body
    assert path in mail.outbox[0].alternatives[0][0]
