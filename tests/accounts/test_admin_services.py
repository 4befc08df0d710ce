"""Issue 11: admin writes go through the same services as the portal (last-owner rule, license limits, audit);
payments cannot be deleted in admin."""

from datetime import date

import pytest
from django.urls import reverse

from accounts.models import AuditEntry, Membership, RelyingParty, Role
from payments.invoicing.documents import invoice_issue
from payments.models import Payment
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_cannot_demote_or_remove_the_last_owner(staff_client, tenant):
    membership = Membership.objects.get(tenant=tenant, role=Role.OWNER)
    url = reverse("admin:accounts_membership_change", args=[membership.pk])
    response = staff_client.post(url, {"role": Role.MEMBER}, follow=True)
    assert "is the last owner" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.OWNER
    staff_client.post(reverse("admin:accounts_membership_delete", args=[membership.pk]), {"post": "yes"})
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_admin_role_change_is_audited(staff_client, tenant, manager):
    membership = Membership.objects.get(tenant=tenant, user=manager)
    staff_client.post(
        reverse("admin:accounts_membership_change", args=[membership.pk]), {"role": Role.BILLING_ADMIN}
    )
    membership.refresh_from_db()
    assert membership.role == Role.BILLING_ADMIN
    assert AuditEntry.objects.filter(tenant=tenant, action="membership.role_changed").exists()


def test_admin_rp_registration_respects_the_license_limit(staff_client, tenant):
    url = reverse("admin:accounts_relyingparty_add")
    assert (
        staff_client.post(url, {"tenant": tenant.pk, "rp_id": "one.example.com", "name": ""}).status_code
        == 302
    )
    response = staff_client.post(
        url, {"tenant": tenant.pk, "rp_id": "two.example.com", "name": ""}, follow=True
    )
    assert "allows at most 1 registered RPs" in response.content.decode()
    assert list(RelyingParty.objects.filter(tenant=tenant).values_list("rp_id", flat=True)) == [
        "one.example.com"
    ]


def test_payments_cannot_be_deleted_in_admin(staff_client, tenant):
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="k",
        billing_date=date(2027, 4, 1),
        lines=[{"description": "Fee", "amount": 1_000}],
    )
    payment = Payment.objects.create(
        tenant=tenant,
        invoice=invoice,
        amount_minor=1_100,
        currency="JPY",
        idempotency_key="invoice-x-attempt-1",
    )
    response = staff_client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "delete_selected", "_selected_action": [payment.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    staff_client.post(reverse("admin:payments_payment_delete", args=[payment.pk]), {"post": "yes"})
    assert Payment.objects.filter(pk=payment.pk).exists()


def test_tenant_status_is_not_edited_by_hand(staff_client, tenant):
    page = staff_client.get(reverse("admin:accounts_tenant_change", args=[tenant.pk])).content.decode()
    assert 'name="status"' not in page and 'name="time_zone"' not in page
