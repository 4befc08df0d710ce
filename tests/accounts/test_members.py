import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.models import AuditEntry, Membership, Role
from billing_portal.common import clock
from tests.factories import UserFactory


def _invite(client, tenant, email, role="manager"):
    return client.post(reverse("member_invite", args=[tenant.slug]), {"email": email, "role": role})


def _accept_path():
    return re.search(r"(/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)


def test_owner_invites_and_invitee_accepts_with_the_role(
    owner_client, client, tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(owner_client, tenant, "New.Person@Example.test", "billing_admin")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.test"]
    assert tenant.name in message.subject
    assert message.alternatives[0][1] == "text/html"
    path = _accept_path()

    invitee = UserFactory(email="new.person@example.test")
    client.force_login(invitee)
    page = client.get(path)
    assert f"Join {tenant.name}" in page.content.decode()
    response = client.post(path)
    assert response.status_code == 302
    assert Membership.objects.get(tenant=tenant, user=invitee).role == Role.BILLING_ADMIN
    # Single use.
    assert client.post(path).status_code == 409
    assert AuditEntry.objects.filter(tenant=tenant, action="invitation.accepted").exists()


def test_invitation_for_someone_else_or_expired_is_refused(
    owner_client, client, tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _invite(owner_client, tenant, "invitee@example.test")
    path = _accept_path()
    client.force_login(UserFactory(email="intruder@example.test"))
    response = client.post(path)
    assert response.status_code == 403
    assert "sent to a different e-mail address" in response.content.decode()
    client.force_login(UserFactory(email="invitee@example.test"))
    with time_machine.travel(clock.now() + timedelta(days=8)):
        response = client.get(path)
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert not Membership.objects.filter(tenant=tenant, user__email="invitee@example.test").exists()


def test_the_link_alone_reveals_nothing_to_someone_else(
    owner_client, tenant, owner, django_capture_on_commit_callbacks
):
    from django.test import Client

    with django_capture_on_commit_callbacks(execute=True):
        _invite(owner_client, tenant, "invitee@example.test", "billing_admin")
    path = _accept_path()
    client = Client()  # another browser
    client.force_login(UserFactory(email="holder-of-the-link@example.test"))
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 403
        page = response.content.decode()
        assert "sent to a different e-mail address" in page
        for secret in (
            tenant.name,
            "invitee@example.test",
            "Billing admin",
            "billing admin",
            owner.display_name,
        ):
            assert secret not in page, secret
    assert not Membership.objects.filter(
        tenant=tenant, user__email="holder-of-the-link@example.test"
    ).exists()
    # The invitee sees what they need: who invites them, to which tenant, with which role.
    client.force_login(UserFactory(email="invitee@example.test"))
    page = client.get(path).content.decode()
    assert f"Join {tenant.name}" in page and "billing admin" in page


def test_bad_invitation_input_keeps_what_was_typed(owner_client, tenant, owner):
    response = _invite(owner_client, tenant, "not-an-email", "manager")
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a valid email address." in body
    assert 'value="not-an-email"' in body
    response = _invite(owner_client, tenant, owner.email)
    assert "already a member" in response.content.decode()
    assert len(mail.outbox) == 0


def test_only_owners_invite(client, tenant, billing_admin):
    client.force_login(billing_admin)
    assert _invite(client, tenant, "x@example.test").status_code == 403
    body = client.get(reverse("member_list", args=[tenant.slug])).content.decode()
    assert "Invite a member" not in body


def test_change_role_and_last_owner_is_protected(owner_client, tenant, owner, manager):
    membership = Membership.objects.get(tenant=tenant, user=manager)
    owner_client.post(
        reverse("member_role_change", args=[tenant.slug, membership.pk]), {"role": "billing_admin"}
    )
    membership.refresh_from_db()
    assert membership.role == Role.BILLING_ADMIN
    entry = AuditEntry.objects.get(tenant=tenant, action="membership.role_changed")
    assert entry.actor == owner and entry.data == {
        "user": manager.email,
        "from": "manager",
        "to": "billing_admin",
    }

    own = Membership.objects.get(tenant=tenant, user=owner)
    response = owner_client.post(
        reverse("member_role_change", args=[tenant.slug, own.pk]), {"role": "member"}, follow=True
    )
    assert "is the last owner" in response.content.decode()
    own.refresh_from_db()
    assert own.role == Role.OWNER


def test_remove_member_asks_for_confirmation_and_protects_contacts(owner_client, tenant, owner, manager):
    membership = Membership.objects.get(tenant=tenant, user=manager)
    url = reverse("member_remove", args=[tenant.slug, membership.pk])
    page = owner_client.get(url).content.decode()
    assert "will lose access" in page
    assert Membership.objects.filter(pk=membership.pk).exists()
    owner_client.post(url)
    assert not Membership.objects.filter(pk=membership.pk).exists()

    # The representative / payment administrator must be replaced first; the last owner stays.
    own = Membership.objects.get(tenant=tenant, user=owner)
    response = owner_client.post(reverse("member_remove", args=[tenant.slug, own.pk]), follow=True)
    assert "last owner" in response.content.decode()
    assert Membership.objects.filter(pk=own.pk).exists()


def test_representative_cannot_be_removed_until_replaced(owner_client, tenant, owner, billing_admin):
    Membership.objects.filter(tenant=tenant, user=billing_admin).update(role=Role.OWNER)
    owner_client.post(reverse("representative_change", args=[tenant.slug]), {"user": billing_admin.pk})
    old_owner = Membership.objects.get(tenant=tenant, user=owner)
    response = owner_client.post(reverse("member_remove", args=[tenant.slug, old_owner.pk]), follow=True)
    assert "is the payment administrator" in response.content.decode()
    assert AuditEntry.objects.filter(tenant=tenant, action="representative.changed").exists()


def test_audit_log_page_shows_only_own_tenant_entries_to_owners(
    owner_client, client, tenant, other_tenant, manager
):
    from accounts.audit import audit_record

    audit_record(action="plan.changed", tenant=tenant, data={"to": "business"})
    audit_record(action="plan.changed", tenant=other_tenant, data={"to": "SECRET-OTHER"})
    body = owner_client.get(reverse("audit_log", args=[tenant.slug])).content.decode()
    assert "plan.changed" in body and "business" in body
    assert "SECRET-OTHER" not in body
    client.force_login(manager)
    assert client.get(reverse("audit_log", args=[tenant.slug])).status_code == 403


@pytest.mark.django_db
def test_audit_entries_are_read_only_in_admin(client, tenant):
    from accounts.audit import audit_record

    entry = audit_record(action="plan.changed", tenant=tenant)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:accounts_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:accounts_auditentry_change", args=[entry.pk])).status_code == 200
    client.post(reverse("admin:accounts_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
