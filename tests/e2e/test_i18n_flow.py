"""Japanese in the browser: a Japanese browser gets the Japanese portal, the header's switcher changes it and the
choice sticks to the user. Screenshots: artifacts/e2e/test_japanese_browser_*.png."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ja_page(browser, live_server):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url, locale="ja-JP"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_japanese_browser_sees_japanese_and_switches_to_english(ja_page, tenant):
    from tests.factories import DEFAULT_PASSWORD

    page = ja_page
    owner = tenant.representative
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.fill("input[name=login]", owner.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("form button[type=submit]:not(.link)")
    page.goto(f"/t/{tenant.slug}/dashboard/")
    expect(page.get_by_role("heading", name="請求ダッシュボード")).to_be_visible()
    expect(page.get_by_role("heading", name="支払い管理者情報")).to_be_visible()
    expect(page.get_by_text("契約プラン", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="請求情報")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "test_japanese_browser_dashboard_ja.png"), full_page=True)

    page.select_option("#language-select", "en")
    page.get_by_role("button", name="言語を切り替え").click()
    expect(page.get_by_role("heading", name="Billing dashboard")).to_be_visible()
    owner.refresh_from_db()
    assert owner.language == "en"
    page.goto(f"/t/{tenant.slug}/billing/")  # the browser still asks for Japanese; the saved choice wins
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.screenshot(path=str(ARTIFACTS / "test_japanese_browser_billing_en.png"), full_page=True)

    page.select_option("#language-select", "ja")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_role("heading", name="請求情報", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="支払い履歴")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "test_japanese_browser_billing_ja.png"), full_page=True)
