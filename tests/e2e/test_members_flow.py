import pytest
from playwright.sync_api import expect

from accounts.models import Membership, Role

pytestmark = pytest.mark.django_db(transaction=True)


def test_owner_changes_a_role_and_removes_a_member_after_confirming(page, sign_in, tenant, manager):
    sign_in(tenant.representative)
    page.goto(f"/t/{tenant.slug}/members/")
    row = page.get_by_role("row").filter(has_text=manager.email)
    row.get_by_label(f"Role of {manager.display_name}").select_option("billing_admin")
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_text(f"{manager.display_name} is now billing admin.")).to_be_visible()
    assert Membership.objects.get(tenant=tenant, user=manager).role == Role.BILLING_ADMIN

    page.get_by_role("row").filter(has_text=manager.email).get_by_role("link", name="Remove").click()
    expect(page.get_by_text("will lose access")).to_be_visible()
    page.get_by_role("button", name="Remove member").click()
    expect(page.get_by_text(f"{manager.display_name} no longer has access")).to_be_visible()
    assert not Membership.objects.filter(tenant=tenant, user=manager).exists()


def test_invited_person_signs_up_and_joins(page, tenant, mailoutbox):
    from tests.e2e.conftest import sign_in_as_owner_and_invite

    accept_path = sign_in_as_owner_and_invite(page, tenant, "newbie@example.test", mailoutbox)
    page.context.clear_cookies()
    page.goto(accept_path)
    # Not signed in: allauth asks to sign in; the invitee signs up instead and comes back.
    page.locator("main").get_by_role("link", name="sign up", exact=True).click()
    page.fill("input[name=name]", "New Bie")  # no organisation of their own: they join the inviting one
    page.fill("input[name=email]", "newbie@example.test")
    page.fill("input[name=password1]", "a-long-unusual-passphrase-42")
    page.fill("input[name=password2]", "a-long-unusual-passphrase-42")
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name=f"Join {tenant.name}")).to_be_visible()
    page.get_by_role("button", name="Accept invitation").click()
    expect(page.get_by_text(f"Welcome to {tenant.name}.")).to_be_visible()
    assert Membership.objects.get(tenant=tenant, user__email="newbie@example.test").role == Role.MANAGER
    assert Membership.objects.filter(user__email="newbie@example.test").count() == 1
