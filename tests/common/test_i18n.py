"""Japanese and English pages: the browser's language by default, the user's saved language first, the header's
switcher, locale dates; and the committed catalogue is current (compiled in pure Python, no system gettext)."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from billing_portal.common import catalogues

JA = {"HTTP_ACCEPT_LANGUAGE": "ja,en-US;q=0.8,en;q=0.5"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}


def _dashboard(client, tenant, **headers):
    response = client.get(reverse("billing_dashboard", args=[tenant.slug]), **headers)
    assert response.status_code == 200
    return response, response.content.decode()


def test_dashboard_follows_the_browser_language(owner_client, tenant):
    response, body = _dashboard(owner_client, tenant, **JA)
    assert response["Content-Language"] == "ja"
    assert '<html lang="ja">' in body
    for text in [
        "請求ダッシュボード",
        "支払い管理者情報",
        "ライセンス情報",
        "契約プラン",
        "サポートプラン",
        "請求情報",
        "支払者名",
    ]:  # a form label (Python)
        assert text in body, text
    assert "Billing dashboard" not in body

    response, body = _dashboard(owner_client, tenant, **EN)
    assert response["Content-Language"] == "en"
    for text in [
        "Billing dashboard",
        "Payment administrator information",
        "License information",
        "License type",
    ]:
        assert text in body, text
    assert "請求ダッシュボード" not in body


def test_saved_language_wins_over_the_browser(owner_client, tenant, owner):
    owner.language = "en"
    owner.save()
    _, body = _dashboard(owner_client, tenant, **JA)
    assert "Billing dashboard" in body and "請求ダッシュボード" not in body

    owner.language = "ja"
    owner.save()
    _, body = _dashboard(owner_client, tenant, **EN)
    assert "請求ダッシュボード" in body and "Billing dashboard" not in body


def test_header_switcher_saves_the_language_on_the_user(owner_client, tenant, owner):
    page = reverse("billing_dashboard", args=[tenant.slug])
    _, body = _dashboard(owner_client, tenant, **EN)
    assert 'action="/language/"' in body and 'name="language"' in body and 'value="ja"' in body

    response = owner_client.post(reverse("language_set"), {"language": "ja", "next": page}, **EN)
    assert response.status_code == 302 and response.url == page
    owner.refresh_from_db()
    assert owner.language == "ja"
    _, body = _dashboard(owner_client, tenant, **EN)  # the browser still says English
    assert "請求ダッシュボード" in body

    owner_client.post(reverse("language_set"), {"language": "en", "next": page})
    owner.refresh_from_db()
    assert owner.language == "en"
    _, body = _dashboard(owner_client, tenant, **JA)
    assert "Billing dashboard" in body


def test_switcher_ignores_unknown_languages_and_foreign_next(owner_client, owner):
    owner.language = "ja"
    owner.save()
    response = owner_client.post(reverse("language_set"), {"language": "xx", "next": "https://evil.example/"})
    assert response.url == "/"
    owner.refresh_from_db()
    assert owner.language == ""  # back to the browser's language


def test_signed_out_switcher_sets_the_cookie(client):
    response = client.post(
        reverse("language_set"), {"language": "ja", "next": reverse("account_login")}, **EN
    )
    assert response.cookies["django_language"].value == "ja"
    body = client.get(reverse("account_login"), **EN).content.decode()
    assert "ログイン" in body


def test_dates_follow_the_language(owner_client, tenant):
    license = tenant.license
    license.current_period_start = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)  # 2026-11-22 00:00 in Tokyo
    license.save()
    _, body = _dashboard(owner_client, tenant, **JA)
    assert "2026年11月22日 0:00 JST" in body
    _, body = _dashboard(owner_client, tenant, **EN)
    assert "2026-11-22 00:00 JST" in body


@pytest.mark.parametrize("po", catalogues.po_paths(), ids=lambda p: f"{p.parts[-3]}-{p.stem}")
def test_committed_mo_is_current_and_po_complete(po):
    catalog = catalogues.read_po(po)
    assert catalogues.problems(catalog) == []
    assert catalogues.mo_is_current(po), (
        f"{po.with_suffix('.mo')} is stale: run `python scripts/i18n.py compile`"
    )


def test_freshness_check_notices_a_stale_mo(tmp_path, settings):
    source = catalogues.po_paths()[0]
    (tmp_path / "ja" / "LC_MESSAGES").mkdir(parents=True)
    po = tmp_path / "ja" / "LC_MESSAGES" / "django.po"
    po.write_bytes(source.read_bytes())
    po.with_suffix(".mo").write_bytes(source.with_suffix(".mo").read_bytes())
    assert catalogues.mo_is_current(po)
    po.write_text(po.read_text().replace('msgstr "請求ダッシュボード"', 'msgstr "請求の概要"'))
    assert not catalogues.mo_is_current(po)
    settings.LOCALE_PATHS = [tmp_path]
    catalogues.compile_all()
    assert catalogues.mo_is_current(po)


def test_emails_go_out_in_each_recipients_language(owner_client, tenant, django_capture_on_commit_callbacks):
    from django.core import mail

    from tests.factories import UserFactory

    japanese = UserFactory(email="hanako@example.test", language="ja")
    page = reverse("member_invite", args=[tenant.slug])
    with django_capture_on_commit_callbacks(execute=True):  # the sender browses in English
        owner_client.post(page, {"email": japanese.email, "role": "manager"}, **EN)
    message = mail.outbox[-1]
    assert message.to == [japanese.email]
    assert "招待" in message.subject and "請求管理ポータル" in message.subject
    assert "招待を承諾する" in message.body
    assert "招待を承諾する" in message.alternatives[0][0]
    assert "Accept the invitation" not in message.body

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(page, {"email": "someone.new@example.test", "role": "manager"}, **JA)
    message = mail.outbox[-1]  # no saved language: the portal's default (English)
    assert "Accept the invitation" in message.body and "招待" not in message.body


@pytest.fixture
def mid_november():
    import time_machine

    with time_machine.travel(datetime(2026, 11, 20, 3, 0, tzinfo=UTC), tick=False):
        yield


def test_billing_period_money_and_inclusive_end_in_japanese(mid_november, owner_client, tenant):
    from datetime import date
    from zoneinfo import ZoneInfo

    from payments.invoicing.documents import invoice_issue

    tokyo = ZoneInfo("Asia/Tokyo")
    invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=f"i18n-{tenant.pk}",
        billing_date=date(2026, 12, 1),
        period_start=datetime(2026, 11, 1, tzinfo=tokyo),
        period_end=datetime(2026, 12, 1, tzinfo=tokyo),
        lines=[{"description": "Base fee", "amount": 21_847}],
    )
    license = tenant.license
    license.current_period_start = datetime(2026, 11, 1, tzinfo=tokyo)
    license.current_period_end = datetime(2026, 12, 1, tzinfo=tokyo)
    license.save()

    body = owner_client.get(reverse("billing_information", args=[tenant.slug]), **JA).content.decode()
    assert "2026年12月1日" in body  # billing date
    assert "2026年11月分（2026年11月1日〜2026年11月30日）" in body
    assert "¥24,032" in body  # ¥21,847 + ¥2,185 consumption tax (10 %, rounded half up)
    assert "支払い履歴" in body and "領収書ID" in body
    body = owner_client.get(reverse("billing_dashboard", args=[tenant.slug]), **JA).content.decode()
    assert "2026年11月1日〜2026年11月30日" in body  # the last day included, not 12月1日 0:00

    body = owner_client.get(reverse("billing_information", args=[tenant.slug]), **EN).content.decode()
    assert "2026-11 (2026-11-01 – 2026-11-30)" in body  # the last day included in English too
    assert "¥24,032" in body and "Payment history" in body


def test_members_page_roles_and_customer_form_errors_in_japanese(owner_client, tenant, manager):
    body = owner_client.get(reverse("member_list", args=[tenant.slug]), **JA).content.decode()
    for text in ["メンバー", "代表者", "支払い管理者", "オーナー", "マネージャー", "メンバーを招待"]:
        assert text in body, text
    response = owner_client.post(
        reverse("customer_edit", args=[tenant.slug]),
        {"name": "株式会社テスト", "address": "", "phone": "call me", "country": "JP"},
        **JA,
    )
    assert "電話番号は数字、スペース、+、-、括弧で入力してください" in response.content.decode()


def test_license_e_mail_in_japanese_for_a_japanese_representative(tenant, django_capture_on_commit_callbacks):
    from zoneinfo import ZoneInfo

    from django.core import mail

    from licenses.models import Plan
    from licenses.notifications import license_event

    owner = tenant.representative
    owner.language = "ja"
    owner.save()
    plan = Plan.objects.get(code="business", currency="JPY")
    with django_capture_on_commit_callbacks(execute=True):
        license_event(
            tenant=tenant,
            action="license.cancelled",
            plan=plan,
            when=datetime(2026, 12, 1, tzinfo=ZoneInfo("Asia/Tokyo")),
        )
    message = mail.outbox[-1]
    assert message.subject.startswith("【解約】2026年12月1日にサービスが終了します")
    assert "2026年12月1日 0:00 JST までサービスをご利用いただけ" not in message.body  # no stray spaces
    assert (
        "2026年12月1日 0:00 JSTまでサービスをご利用いただけ、その後はFreeライセンスになります" in message.body
    )
    assert "解約を取り消す" in message.alternatives[0][0]


def test_contract_page_and_its_terms_in_japanese(owner_client, tenant):
    body = owner_client.get(reverse("contract", args=[tenant.slug]), **JA).content.decode()
    for text in [
        "契約内容",
        "契約の解約",
        "退会手続き",
        "Freeライセンスのため、解約する有料契約はありません",
    ]:
        assert text in body, text
    from django.utils import translation

    from billing_portal.pages.contract_pages import _terms

    with translation.override("ja"):
        _, terms = _terms(tenant)
    assert "請求済みの料金（今期分を含む）は返金されません。" in dict(terms).values()
