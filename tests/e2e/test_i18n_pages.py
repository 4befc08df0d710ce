"""Every page in Japanese and in English, in the browser: a Japanese customer's portal pages (signed out and in) and
the operator's main admin pages, each saved as artifacts/e2e/i18n/<lang>/<page>.png. The Japanese pages must not
show English beyond product names, codes and the customer's own data (an allow-list), and the English pages must
show no Japanese UI text; dates read 2026年11月22日 / 2026-11-22 and money ¥24,032 on both."""

import os
import re
from datetime import timedelta

import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("STRIPE_API_BASE"), reason="needs the Stripe stand-in (make test starts it)"
    ),
]

SHOTS = ARTIFACTS / "i18n"

# English that Japanese billing software shows as is: product and plan names, codes, units, brands, formats.
ALLOWED = {
    "MAU",
    "MAUs",
    "RP",
    "RPs",
    "API",
    "ID",
    "Stripe",
    "JST",
    "UTC",
    "JPY",
    "USD",
    "PDF",
    "CSV",
    "MRR",
    "ARR",
    "DAU",
    "Free",
    "Starter",
    "Business",
    "Enterprise",
    "Visa",
    "visa",
    "VISA",
    "Django",
    "URL",
    "Webhook",
    "Bearer",
    "localstripe",
    "YYYY",
    "MM",
    "DD",
    "Authorization",
    "JSON",
    "TOTP",
    "MFA",
    "JP",
    "US",
    "ISO",
    # Django's own Japanese texts name the keys: 「Control キーを押したまま… Mac は Command キー」.
    "Control",
    "Command",
    "Mac",
}
# Data and codes, not UI words: e-mail addresses, URLs and paths (Asia/Tokyo), host names, identifiers with digits
# (tenant-9cc404, R1234…, user-0001), snake_case and dotted codes (always_invoice, invoice.issued).
CODE_LIKE = re.compile(
    r"\S+@\S+|\S*/\S*|\b[\w.-]+\.(?:test|example|jp|com)\b|\b[a-z_]+(?:\.[a-z_]+)+\b"
    r"|\b[\w.-]*\d[\w.-]*\b|\b\w*_\w*\b"
)
WORD = re.compile(r"[A-Za-z][A-Za-z']+")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _catalogue_names():
    """Names the operator gives catalogue rows (plans, menus, units) and the seller's details (settings): data,
    shown as entered."""
    from django.conf import settings

    from licenses.models import Menu, Plan, PricingUnit
    from metering.models import MeteringUnit

    names = set()
    for values in (
        Plan.objects.values_list("name", flat=True),
        Menu.objects.values_list("display_name", flat=True),
        PricingUnit.objects.values_list("display_name", flat=True),
        MeteringUnit.objects.values_list("display_name", flat=True),
    ):
        for name in values:
            names.update(WORD.findall(name))
    names.update(WORD.findall(f"{settings.SELLER_NAME} {settings.SELLER_ADDRESS}"))
    return names


def english_words(text: str, allowed: set[str]) -> list[str]:
    text = CODE_LIKE.sub(" ", text)
    return sorted({w for w in WORD.findall(text) if w not in allowed and w.strip("'") not in allowed})


@pytest.fixture
def world(db):
    """A Japanese customer with a paid license, a support plan, a card, members, an RP and users, MAU this month,
    an API key, credit, invoices (one paid at purchase, one monthly); a staff user for admin."""
    from accounts.models import Role
    from accounts.services import api_key_create, invitation_create
    from billing_portal.common import clock
    from licenses.registrations import end_user_register, relying_party_register
    from licenses.selectors import plan_get
    from licenses.services import license_purchase
    from licenses.support import support_change, support_plans
    from metering.services import auth_events_ingest, mau_alert_setting_update
    from payments.invoicing.credits import credit_code_issue, credit_code_redeem
    from tests.factories import MembershipFactory, TenantFactory, UserFactory
    from tests.payments.factories import account_for, card_for

    owner = UserFactory(email="yamada@example.test", name="山田 太郎")
    tenant = TenantFactory(
        name="株式会社サンプル商事",
        owner=owner,
        postal_code="100-0005",
        prefecture="13",
        address="千代田区丸の内1-2-3",
        phone="03-1234-5678",
    )
    MembershipFactory(
        tenant=tenant, role=Role.MANAGER, user=UserFactory(email="sato@example.test", name="佐藤 花子")
    )
    invitation_create(tenant=tenant, email="suzuki@example.test", role=Role.MEMBER, invited_by=owner)
    account_for(tenant, name="山田 太郎", email="keiri@example.test")
    card_for(tenant)
    license_purchase(tenant=tenant, plan=plan_get(code="starter", currency="JPY"), actor=owner)
    support_change(tenant=tenant, plan=support_plans(tenant=tenant)[0], actor=owner)
    relying_party_register(tenant=tenant, rp_id="login.example.jp", name="会員サイト")
    end_user_register(tenant=tenant, user_id="user-0001", display_name="田中 一郎")
    api_key_create(tenant=tenant, name="ログインサービス", created_by=owner)
    now = clock.now()
    auth_events_ingest(
        tenant=tenant,
        events=[
            {"id": f"e{n}", "rp": "login.example.jp", "user_id": f"u{n}", "occurred_at": now.isoformat()}
            for n in range(12)
        ],
    )
    mau_alert_setting_update(tenant=tenant, notify_representative=True, threshold=1000)
    code = credit_code_issue(
        name="ご紹介クレジット", amount=3_000, currency="JPY", expires_at=now + timedelta(days=60)
    )
    credit_code_redeem(tenant=tenant, code=code.code, actor=owner)
    # Last month's monthly invoice, unpaid (a billing period on the payment history).
    from payments.invoicing.documents import invoice_issue

    year, month = clock.month_of(now, tenant.time_zone)
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    start, end = clock.month_bounds(*previous, tenant.time_zone)
    invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=f"e2e-monthly-{tenant.pk}",
        billing_date=now.date(),
        period_start=start,
        period_end=end,
        lines=[{"description": "Starter", "amount": 21_847}],
    )
    staff = UserFactory(email="ops@example.test", name="運用 担当", is_staff=True, is_superuser=True)
    # A second tenant of the same owner, on Free without a payment account (the other dashboard, unsubscribe).
    free = TenantFactory(name="合同会社フリー", owner=owner)
    return {"tenant": tenant, "owner": owner, "staff": staff, "free": free}


def _browse(browser, live_server, lang):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        base_url=live_server.url,
        locale="ja-JP" if lang == "ja" else "en-US",
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    return context, page


def _sign_in(page, user):
    from tests.factories import DEFAULT_PASSWORD

    page.goto("/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("form button[type=submit]:not(.link)")
    page.wait_for_load_state()


def _shoot(page, lang, name, problems, allowed):
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # deferred scripts (charts) have drawn
    (SHOTS / lang).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / lang / f"{name}.png"), full_page=True)
    # Codes (<code>: API keys, audit data, identifiers) are data, not UI text.
    text = page.evaluate(
        "(() => { const b = document.body.cloneNode(true);"
        " b.querySelectorAll('code, pre').forEach(e => e.remove());"
        " document.documentElement.appendChild(b); const t = b.innerText; b.remove(); return t; })()"
    )
    assert page.locator("html").get_attribute("lang") == lang, name
    if lang == "ja":
        words = english_words(text, allowed)
        if words:
            problems.append(f"{name}: {' '.join(words)}")
    else:
        ui_text = text
        for data in (
            "株式会社サンプル商事",
            "合同会社フリー",
            "山田 太郎",
            "佐藤 花子",
            "田中 一郎",
            "会員サイト",
            "ログインサービス",
            "ご紹介クレジット",
            "千代田区丸の内1-2-3",
            "東京都",
            "日本語",
            "運用 担当",
        ):
            ui_text = ui_text.replace(data, "")
        if JAPANESE.search(ui_text):
            problems.append(f"{name}: Japanese on the English page: {JAPANESE.findall(ui_text)[:10]}")


CUSTOMER_PAGES = [
    ("dashboard", "dashboard/"),
    ("customer", "customer/"),
    ("customer_edit", "customer/edit/"),
    ("mau_alert", "mau/alert/"),
    ("license_plans", "license/plans/"),
    ("license_change", "license/change/?plan=business"),
    ("support_plans", "support/"),
    ("billing_information", "billing/"),
    ("card_register", "billing/card/register/"),
    ("relying_parties", "relying-parties/"),
    ("end_users", "users/"),
    ("members", "members/"),
    ("audit_log", "audit-log/"),
    ("api_keys", "api-keys/"),
    ("contract", "contract/"),
    ("unsubscribe", "contract/unsubscribe/"),
]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_page_in_both_languages(browser, live_server, world, lang):
    problems = _pages(browser, live_server, world, lang)
    (SHOTS / lang / "problems.txt").write_text("\n".join(problems) + "\n")
    assert problems == [], "\n".join(problems)


def _pages(browser, live_server, world, lang):
    tenant, owner, staff = world["tenant"], world["owner"], world["staff"]
    allowed = ALLOWED | _catalogue_names()
    problems = []
    owner.language = lang
    owner.save(update_fields=["language"])
    staff.language = lang
    staff.save(update_fields=["language"])

    context, page = _browse(browser, live_server, lang)
    try:
        page.goto("/accounts/login/")
        _shoot(page, lang, "sign_in", problems, allowed)
        page.goto("/accounts/signup/")
        _shoot(page, lang, "sign_up", problems, allowed)
        _sign_in(page, owner)
        page.goto("/tenants/")
        _shoot(page, lang, "tenant_list", problems, allowed)
        for name, path in CUSTOMER_PAGES:
            page.goto(f"/t/{tenant.slug}/{path}")
            _shoot(page, lang, name, problems, allowed)
        for name, path in (
            ("free_dashboard", "dashboard/"),
            ("free_unsubscribe", "contract/unsubscribe/"),
            ("free_payment_account_create", "billing/payment-account/create/"),
        ):
            page.goto(f"/t/{world['free'].slug}/{path}")
            _shoot(page, lang, name, problems, allowed)
        page.goto(f"/t/{tenant.slug}/support/")
        page.locator("a[href*='support/change/?plan=']").first.click()
        _shoot(page, lang, "support_change", problems, allowed)
        page.goto(f"/t/{tenant.slug}/contract/")
        for box in page.locator("#cancel-form input[type=checkbox], form input[type=checkbox]").all():
            box.check()
        page.locator("form:has(input[type=checkbox]) button[type=submit]").first.click()
        page.wait_for_load_state()
        _shoot(page, lang, "contract_cancel_review", problems, allowed)
        page.goto(f"/t/{tenant.slug}/billing/")
        page.get_by_label(re.compile("Credit code|クレジットコード")).fill("WRONG-CODE")
        page.locator("form[action$='credits/register/'] button[type=submit]").click()
        page.wait_for_load_state()
        _shoot(page, lang, "billing_information_error", problems, allowed)
    finally:
        context.close()

    context, page = _browse(browser, live_server, lang)
    try:
        _sign_in(page, staff)
        invoice = tenant.invoices.order_by("pk").first()
        admin_pages = [
            ("admin_index", "/admin/"),
            ("admin_tenants", "/admin/accounts/tenant/"),
            ("admin_tenant", f"/admin/accounts/tenant/{tenant.pk}/change/"),
            ("admin_invoices", "/admin/payments/invoice/"),
            ("admin_invoice", f"/admin/payments/invoice/{invoice.pk}/change/"),
            ("admin_refund", f"/admin/payments/invoice/{invoice.pk}/refund/"),
            ("admin_license", f"/admin/licenses/license/{tenant.license.pk}/change/"),
            ("admin_change_plan", f"/admin/licenses/license/{tenant.license.pk}/change-plan/"),
            ("admin_credit_code_add", "/admin/payments/creditcode/add/"),
            ("admin_coupons", "/admin/payments/coupon/add/"),
            ("admin_audit_log", "/admin/accounts/auditentry/"),
            ("admin_webhook_deliveries", "/admin/ops/webhookdelivery/"),
            ("admin_test_clocks", "/admin/ops/testclock/add/"),
            ("ops_revenue", "/admin/revenue/"),
            ("ops_exports", "/admin/exports/"),
        ]
        for name, path in admin_pages:
            page.goto(path)
            _shoot(page, lang, name, problems, allowed)
    finally:
        context.close()
    return problems
