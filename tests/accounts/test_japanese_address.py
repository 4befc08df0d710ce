"""The customer's address has a 〒 postal code and a prefecture (都道府県): typed in any width, stored in ASCII,
shown 〒100-0005 東京都… on Japanese pages, in English order on English pages, copied onto invoices; addresses
saved before the split keep their data (the migration splits what it recognises)."""

import importlib
from datetime import date

from django.apps import apps
from django.urls import reverse

from tests.factories import TenantFactory

JA = {"HTTP_ACCEPT_LANGUAGE": "ja"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def test_full_width_postal_code_phone_and_country_are_stored_in_ascii(owner_client, tenant):
    response = owner_client.post(
        reverse("customer_edit", args=[tenant.slug]),
        {
            "name": "株式会社テスト",
            "postal_code": "〒１００－０００５",
            "prefecture": "13",
            "address": "千代田区丸の内１－２－３",
            "phone": "０３ー１２３４－５６７８",
            "country": "ｊｐ",
        },
        **JA,
    )
    assert response.status_code == 302, response.content.decode()
    tenant.refresh_from_db()
    assert (tenant.postal_code, tenant.prefecture, tenant.phone, tenant.country) == (
        "100-0005",
        "13",
        "03-1234-5678",
        "JP",
    )
    assert tenant.address == "千代田区丸の内１－２－３"  # the address itself is text: kept as typed

    page = owner_client.get(response.url, **JA).content.decode()
    assert "顧客情報を保存しました。" in page  # the flash message, in the page's language
    assert "〒100-0005 東京都千代田区丸の内１－２－３" in page


def test_the_address_in_english_order_on_english_pages(owner_client, tenant):
    tenant.postal_code, tenant.prefecture, tenant.address = "530-0001", "27", "1-1 Umeda, Kita-ku"
    tenant.save()
    page = owner_client.get(reverse("customer_view", args=[tenant.slug]), **EN).content.decode()
    assert "1-1 Umeda, Kita-ku, Osaka 530-0001" in page


def test_edit_form_lists_the_47_prefectures_and_refuses_a_bad_postal_code(owner_client, tenant):
    page = owner_client.get(reverse("customer_edit", args=[tenant.slug]), **JA).content.decode()
    assert "都道府県" in page and "郵便番号" in page
    assert page.count("<option") >= 48 and ">北海道<" in page and ">沖縄県<" in page
    response = owner_client.post(
        reverse("customer_edit", args=[tenant.slug]),
        {
            "name": tenant.name,
            "postal_code": "12-345",
            "prefecture": "",
            "address": "",
            "phone": "",
            "country": "JP",
        },
        **JA,
    )
    assert response.status_code == 200
    assert "郵便番号は7桁で入力してください（例：100-0005）。" in response.content.decode()


def test_invoices_copy_the_whole_address(tenant):
    from payments.invoicing.documents import invoice_issue

    tenant.postal_code, tenant.prefecture, tenant.address = "100-0005", "13", "千代田区丸の内1-2-3"
    tenant.save()
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="address",
        billing_date=date(2026, 12, 1),
        lines=[{"description": "Base fee", "amount": 1000}],
    )
    assert invoice.buyer_address == "〒100-0005 東京都千代田区丸の内1-2-3"


def test_migration_splits_existing_one_line_addresses_and_keeps_the_others(db):
    migration = importlib.import_module("accounts.migrations.0004_tenant_postal_address")
    japanese = TenantFactory(address="〒１００－０００５ 東京都千代田区丸の内1-2-3")
    prefecture_only = TenantFactory(address="大阪府大阪市北区梅田1-1")
    foreign = TenantFactory(address="5 Main St, Springfield", country="US")
    migration.split_addresses(apps, None)
    for tenant in (japanese, prefecture_only, foreign):
        tenant.refresh_from_db()
    assert (japanese.postal_code, japanese.prefecture, japanese.address) == (
        "100-0005",
        "13",
        "千代田区丸の内1-2-3",
    )
    assert (prefecture_only.postal_code, prefecture_only.prefecture, prefecture_only.address) == (
        "",
        "27",
        "大阪市北区梅田1-1",
    )
    assert (foreign.postal_code, foreign.prefecture, foreign.address) == ("", "", "5 Main St, Springfield")
    migration.join_addresses(apps, None)
    japanese.refresh_from_db()
    assert (japanese.postal_code, japanese.address) == ("", "〒100-0005 東京都千代田区丸の内1-2-3")
