"""Roles that cannot destroy: only owners change the representative / payment administrator and cancel the
contract (one path, one rule); unsubscribing needs a representative who is an owner and their password."""

import pytest
import time_machine
from django.urls import reverse

from accounts.models import AuditEntry, Membership, Role, Tenant
from accounts.services import tenant_set_representative
from billing_portal.common.exceptions import ApplicationError
from licenses.selectors import license_get
from tests.factories import DEFAULT_PASSWORD
from tests.licenses.conftest import buy, jst

pytestmark = pytest.mark.django_db
TERMS = {"no_renewal": "on", "no_refund": "on", "free_limits": "on", "open_invoices": "on"}


def test_billing_admin_cannot_make_themselves_representative_then_destroy_the_tenant(
    client, tenant, owner, billing_admin
):
    """The reported attack: billing admin → representative → unsubscribe. Every step is refused now."""
    client.force_login(billing_admin)
    page = client.get(reverse("customer_view", args=[tenant.slug])).content.decode()
    assert "Change representative" not in page
    response = client.post(reverse("representative_change", args=[tenant.slug]), {"user": billing_admin.pk})
    assert response.status_code == 403
    response = client.post(
        reverse("payment_administrator_change", args=[tenant.slug]), {"user": billing_admin.pk}
    )
    assert response.status_code == 403
    tenant.refresh_from_db()
    assert tenant.representative == owner and tenant.payment_administrator == owner
    response = client.post(
        reverse("unsubscribe", args=[tenant.slug]),
        {"confirm_name": tenant.name, "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 403
    assert Tenant.objects.get(pk=tenant.pk).status == Tenant.Status.ACTIVE
    assert Membership.objects.filter(tenant=tenant, user=owner, role=Role.OWNER).exists()


def test_the_services_refuse_non_owners_too(tenant, billing_admin):
    with pytest.raises(ApplicationError) as exc:
        tenant_set_representative(tenant=tenant, user=billing_admin, actor=billing_admin)
    assert exc.value.code == "owner_required"
    tenant.refresh_from_db()
    assert tenant.representative != billing_admin


def test_a_representative_who_is_not_an_owner_cannot_unsubscribe(
    client, owner_client, tenant, owner, billing_admin
):
    # An owner may name a billing admin representative (a contact person) ...
    assert (
        owner_client.post(
            reverse("representative_change", args=[tenant.slug]), {"user": billing_admin.pk}
        ).status_code
        == 302
    )
    tenant.refresh_from_db()
    assert tenant.representative == billing_admin
    # ... but that does not give them the power to delete the tenant.
    client.force_login(billing_admin)
    url = reverse("unsubscribe", args=[tenant.slug])
    page = client.get(url).content.decode()
    assert "The representative must be an owner" in page
    assert 'name="password"' not in page
    assert client.post(url, {"confirm_name": tenant.name, "password": DEFAULT_PASSWORD}).status_code == 403
    assert Tenant.objects.get(pk=tenant.pk).status == Tenant.Status.ACTIVE


def test_unsubscribe_asks_the_representative_for_their_password(owner_client, tenant):
    url = reverse("unsubscribe", args=[tenant.slug])
    page = owner_client.get(url).content.decode()
    assert 'name="password"' in page and "Your password" in page
    missing = owner_client.post(url, {"confirm_name": tenant.name})
    assert missing.status_code == 200 and "This field is required." in missing.content.decode()
    wrong = owner_client.post(url, {"confirm_name": tenant.name, "password": "not-my-password"})
    assert "The password is not correct." in wrong.content.decode()
    assert Tenant.objects.get(pk=tenant.pk).status == Tenant.Status.ACTIVE
    done = owner_client.post(url, {"confirm_name": tenant.name, "password": DEFAULT_PASSWORD}, follow=True)
    assert "has been unsubscribed" in done.content.decode()
    assert Tenant.objects.get(pk=tenant.pk).status == Tenant.Status.CLOSED


def test_billing_admin_cannot_cancel_the_contract_through_license_cancel(client, tenant, billing_admin):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        client.force_login(billing_admin)
        url = reverse("license_cancel", args=[tenant.slug])
        response = client.post(url)
        assert response.status_code in (403, 405)
        assert license_get(tenant=tenant).auto_renew
        assert not AuditEntry.objects.filter(tenant=tenant, action="license.cancelled").exists()
        dashboard = client.get(reverse("billing_dashboard", args=[tenant.slug])).content.decode()
        assert "Cancel license" not in dashboard


def test_one_cancellation_path_the_contract_page(owner_client, tenant):
    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        owner_client.force_login(tenant.representative)
        dashboard = owner_client.get(reverse("billing_dashboard", args=[tenant.slug])).content.decode()
        contract = reverse("contract", args=[tenant.slug])
        assert f'href="{contract}#cancel-h">Cancel license' in dashboard
        # The old address leads to the contract page, where the terms must be accepted; it cancels nothing itself.
        old = owner_client.get(reverse("license_cancel", args=[tenant.slug]))
        assert old.status_code == 302 and old.url == f"{contract}#cancel-h"
        assert owner_client.post(reverse("license_cancel", args=[tenant.slug])).status_code == 405
        assert license_get(tenant=tenant).auto_renew
        owner_client.post(reverse("contract_cancel", args=[tenant.slug]), {**TERMS, "step": "confirm"})
        assert not license_get(tenant=tenant).auto_renew
