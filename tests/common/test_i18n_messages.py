"""Beyond the templates: flash messages, service errors, the API's error messages (Accept-Language; codes stay
English), Django admin and the cockpit, the scripts' strings, e-mails whose reason was stored by a task, and
periods ending on their last day in both languages."""

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from accounts.models import Role
from tests.factories import MembershipFactory, UserFactory

JA = {"HTTP_ACCEPT_LANGUAGE": "ja,en;q=0.5"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.django_db
def test_api_error_message_follows_accept_language_and_the_code_stays_english(client):
    body = client.get("/api/v1/whoami", **JA).json()["error"]
    assert body == {
        "code": "unauthenticated",
        "message": "APIキーを「Authorization: Bearer <key>」ヘッダーで送信してください。",
    }
    body = client.get("/api/v1/whoami", **EN).json()["error"]
    assert body["message"] == "Send an API key as 'Authorization: Bearer <key>'."
    assert client.get("/api/v1/whoami").json()["error"]["message"].startswith("Send an API key")  # no header


def test_api_per_event_errors_in_japanese(client, tenant):
    from tests.metering.factories import auth, event, make_api_key, make_rps

    make_rps(tenant, "login.example.com")
    raw = make_api_key(tenant=tenant)
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/auth-events",
        json.dumps({"events": [event("a", "alice", "2026-11-02T10:00:00Z", rp="evil.example.com")]}),
        content_type="application/json",
        **auth(raw),
        **JA,
    )
    body = response.json()["error"]
    assert body["code"] == "invalid_events" and body["errors"][0]["field"] == "rp"
    assert body["message"] == "1件のイベントに1件の問題があります。何も保存していません。"
    assert (
        body["errors"][0]["message"] == "RP「evil.example.com」は登録されていません。先に登録してください。"
    )


def test_nul_byte_answer_follows_the_browser(client):
    response = client.get("/api/v1/whoami?x=%00", **JA)
    assert response.status_code == 400 and "NUL文字" in response.json()["error"]["message"]


def test_flash_messages_and_service_errors_in_japanese(client, tenant, owner):
    owner.language = "ja"
    owner.save()
    client.force_login(owner)
    membership = tenant.memberships.get(user=owner)
    page = client.post(
        reverse("member_role_change", args=[tenant.slug, membership.pk]), {"role": "manager"}, follow=True
    ).content.decode()
    assert (
        f"{owner.display_name}さんは{tenant.name}の最後のオーナーです。先に別のメンバーをオーナーにしてください。"
        in page
    )
    other = MembershipFactory(tenant=tenant, role=Role.MEMBER)
    page = client.post(
        reverse("member_role_change", args=[tenant.slug, other.pk]), {"role": "manager"}, follow=True
    ).content.decode()
    assert f"{other.user.display_name}さんのロールをマネージャーに変更しました。" in page
    page = client.post(
        reverse("credit_code_register", args=[tenant.slug]), {"code": "ＮＯＰＥ"}, follow=True
    ).content.decode()
    assert "このクレジットコードは無効です。コードをご確認のうえ、もう一度お試しください。" in page


def test_full_width_credit_codes_are_accepted(owner_client, tenant):
    from datetime import timedelta

    from billing_portal.common import clock
    from payments.invoicing.credits import credit_code_issue

    code = credit_code_issue(
        name="Launch", amount=5_000, currency="JPY", expires_at=clock.now() + timedelta(days=9)
    )
    full_width = "－".join(code.code[i : i + 4] for i in range(0, 16, 4)).translate(
        {ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    )
    page = owner_client.post(
        reverse("credit_code_register", args=[tenant.slug]), {"code": full_width}, follow=True, **JA
    ).content.decode()
    assert "クレジット「Launch」（¥5,000）を登録しました。" in page


def test_django_admin_and_the_cockpit_in_japanese(admin_client, admin_user, tenant):
    from payments.invoicing.documents import invoice_issue

    admin_user.language = "ja"
    admin_user.save()
    invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="admin-ja",
        billing_date=date(2026, 12, 1),
        lines=[{"description": "Base fee", "amount": 1000}],
    )
    index = admin_client.get("/admin/").content.decode()
    for text in [
        "運営コックピット",
        "売上ダッシュボード",
        "CSVエクスポート",
        "Webhook配信ログ",
        "アカウントとテナント",
        "テナント",
        "請求書",
        "クレジットコード",
        "ライセンスと料金",
        "支払い",
    ]:
        assert text in index, text
    listing = admin_client.get("/admin/accounts/tenant/").content.decode()
    for text in [
        "顧客名",
        "通貨",
        "販売形態",
        "ステータス",
        "セルフサービス",
        "有効",
        "CSVエクスポート（この絞り込み条件）",
    ]:
        assert text in listing, text
    invoices = admin_client.get("/admin/payments/invoice/").content.decode()
    assert "選択した銀行振込の請求書を支払い済みにする" in invoices and "発行日時" in invoices
    change = admin_client.get(f"/admin/accounts/tenant/{tenant.pk}/change/").content.decode()
    for text in ["顧客情報", "郵便番号", "都道府県", "東京都", "代表者", "支払い管理者"]:
        assert text in change, text
    revenue = admin_client.get(reverse("ops_revenue")).content.decode()
    assert "MRRとその増減（直近12か月）" in revenue and "未入金の銀行振込請求書" in revenue
    exports = admin_client.get(reverse("ops_exports")).content.decode()
    assert "期間を適用" in exports and "請求書（CSV）" in exports


def test_admin_amounts_accept_full_width_digits(admin_client):
    from payments.models import CreditCode

    response = admin_client.post(
        "/admin/payments/creditcode/add/",
        {
            "name": "全角",
            "currency": "JPY",
            "amount": "５，０００",
            "expires_at_0": "2030-01-01",
            "expires_at_1": "00:00",
            "redemption_limit": "１",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CreditCode.objects.get(name="全角").amount == 5000


def test_scripts_read_their_strings_from_the_javascript_catalogue(client, owner_client, tenant):
    catalogue = client.get(reverse("javascript_catalog"), **JA)
    assert catalogue.status_code == 200 and catalogue["Content-Type"].startswith("text/javascript")
    text = catalogue.content.decode()
    assert "\\u30ab\\u30fc\\u30c9\\u3092\\u4fdd\\u5b58" in text or "カードを保存" in text
    assert "Updated %s" in text
    page = owner_client.get(reverse("customer_view", args=[tenant.slug]), **JA).content.decode()
    assert page.index('src="/jsi18n/"') < page.index(
        "js/mau_chart"
    )  # the catalogue first, as an external script


def test_payment_failure_reason_stored_by_a_task_reads_in_the_recipients_language(tenant, owner):
    from payments.invoicing.documents import invoice_issue
    from payments.notifications import notify_payment_failed

    owner.language = "ja"
    owner.save()
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="fail",
        billing_date=date(2026, 12, 1),
        lines=[{"description": "Base fee", "amount": 1000}],
    )
    with translation.override("en"):  # the charging task runs in the default language
        reason = "Your card was declined. Please use a different card or contact your card issuer."
        notify_payment_failed(invoice=invoice, reason=reason)
    message = mail.outbox[-1]
    assert (
        "カードが承認されませんでした。別のカードをご利用いただくか、カード会社にお問い合わせください。"
        in message.body
    )
    assert "カードが承認されませんでした" in message.alternatives[0][0]


def test_limit_reasons_in_an_e_mail_read_in_each_recipients_language(
    tenant, django_capture_on_commit_callbacks
):
    from licenses.models import Plan
    from licenses.notifications import license_event
    from licenses.selectors import limits_violations
    from tests.metering.factories import make_rps

    make_rps(tenant, *(f"rp{n}.example.com" for n in range(4)))  # the Free license allows 1
    free = Plan.objects.get(code="free", currency="JPY")
    english = UserFactory(email="en@example.test", language="en")
    MembershipFactory(tenant=tenant, user=english, role=Role.OWNER)
    tenant.representative.language = "ja"
    tenant.representative.save()
    tenant.payment_administrator = english
    tenant.save()
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        reasons = limits_violations(tenant=tenant, plan=free)
        license_event(tenant=tenant, action="tenant.suspended", plan=free, data={"reasons": reasons})
    by_address = {m.to[0]: m for m in mail.outbox[-2:]}
    assert "RPが4件登録されていますが、Freeの上限は1件です。RPを3件削除してください" in (
        by_address[tenant.representative.email].body
    )
    assert "4 RPs are registered but Free allows 1: remove 3 RPs" in by_address[english.email].body
    from accounts.models import AuditEntry

    entry = AuditEntry.objects.filter(action="tenant.suspended").latest("created_at")
    assert entry.data["reasons"][0].startswith("4 RPs are registered")  # JSON: rendered text


def test_periods_end_on_their_last_day_in_both_languages():
    from billing_portal.common.templatetags.periods import period_end, period_range

    start, end = datetime(2026, 11, 1, tzinfo=TOKYO), datetime(2026, 12, 1, tzinfo=TOKYO)
    from django.utils import timezone

    with timezone.override(TOKYO):
        with translation.override("ja"):
            assert period_range(start, end) == "2026年11月1日〜2026年11月30日"
            assert period_end(end) == "2026年11月30日 23:59 JST"
        with translation.override("en"):
            assert period_range(start, end) == "2026-11-01 – 2026-11-30"
            assert period_end(end) == "2026-11-30 23:59 JST"
            mid = datetime(2026, 11, 15, 9, 30, tzinfo=TOKYO)
            assert period_range(mid, end) == "2026-11-15 09:30 JST – 2026-12-01 00:00 JST"  # not whole days


def test_generated_invoice_texts_read_in_the_pages_language():
    from payments.templatetags.invoice_text import invoice_text

    stored = [
        "MAU overage (above 1,000 MAU)",
        "Remaining time on Business (2027-04-01 – 2027-04-30)",
        "Discount: Spring (10% off license fees for 3 months)",
        "Proration: Starter → Business",
        "API calls (up to 1,000)",
        "Refund of invoice 2026-00001: double charge",
        "Starter license fee",
    ]
    with translation.override("en"):
        assert [invoice_text(s) for s in stored] == stored  # English reads as stored
    with translation.override("ja"):
        assert [invoice_text(s) for s in stored] == [
            "MAU超過料金（1,000 MAU超過分）",
            "Businessの残り期間分（2027年4月1日〜2027年4月30日）",
            "割引：Spring（ライセンス料を3か月間10%割引）",
            "日割り精算：Starter → Business",
            "API calls（1,000まで）",
            "請求書2026-00001の返金：double charge",
            "Starter license fee",
        ]  # a unit's own name stays as entered


def test_local_text_follows_the_language():
    from billing_portal.common.clock import local_text

    instant = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    with translation.override("ja"):
        assert local_text(instant, "Asia/Tokyo") == "2026年11月22日 0:00 JST"
    with translation.override("en"):
        assert local_text(instant, "Asia/Tokyo") == "2026-11-22 00:00 JST"
