import pytest
from playwright.sync_api import expect

from accounts.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_up_lands_on_the_customer_view_with_a_free_license(page):
    page.goto("/accounts/signup/")
    page.fill("input[name=name]", "Hana Sato")
    page.fill("input[name=organisation]", "Sato Trading K.K.")
    page.fill("input[name=email]", "hana@sato.example")
    page.fill("input[name=password1]", "a-long-unusual-passphrase-42")
    page.fill("input[name=password2]", "a-long-unusual-passphrase-42")
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Customer", exact=True)).to_be_visible()
    expect(page.get_by_text("Sato Trading K.K.").first).to_be_visible()
    expect(page.get_by_text("No end date")).to_be_visible()
    assert Tenant.objects.get(name="Sato Trading K.K.").representative.email == "hana@sato.example"


def test_change_the_representative(page, sign_in, tenant, manager):
    sign_in(tenant.representative)
    page.goto(f"/t/{tenant.slug}/customer/")
    page.get_by_role("link", name="Change representative").click()
    page.select_option("select[name=user]", str(manager.pk))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Representative changed to {manager.display_name}.")).to_be_visible()
    expect(page.locator("#representative-info").locator("xpath=../..")).to_contain_text(manager.email)
    tenant.refresh_from_db()
    assert tenant.representative == manager


def test_customer_form_errors_keep_the_input(page, sign_in, tenant):
    sign_in(tenant.representative)
    page.goto(f"/t/{tenant.slug}/customer/edit/")
    page.fill("input[name=phone]", "call me maybe")
    page.fill("input[name=address]", "Kept Address 9")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter a phone number")).to_be_visible()
    expect(page.locator("input[name=address]")).to_have_value("Kept Address 9")


def test_unsubscribe_asks_the_representative_to_re_enter_their_password(page, sign_in, tenant):
    from tests.e2e.conftest import ARTIFACTS
    from tests.factories import DEFAULT_PASSWORD

    sign_in(tenant.representative)
    page.goto(f"/t/{tenant.slug}/contract/")
    page.get_by_role("link", name="Unsubscribe procedure").click()
    page.fill("input[name=confirm_name]", tenant.name)
    password = page.get_by_label("Your password")
    expect(password).to_have_attribute("type", "password")
    password.fill("not-my-password")
    page.get_by_role("button", name="Unsubscribe and delete").click()
    expect(page.get_by_text("The password is not correct.")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "unsubscribe_reauthentication_wrong_password.png"), full_page=True)
    assert Tenant.objects.get(pk=tenant.pk).status == Tenant.Status.ACTIVE

    expect(page.locator("input[name=confirm_name]")).to_have_value(tenant.name)
    page.get_by_label("Your password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Unsubscribe and delete").click()
    expect(page.get_by_text(f"{tenant.name} has been unsubscribed")).to_be_visible()
    assert Tenant.objects.get(pk=tenant.pk).status == Tenant.Status.CLOSED
