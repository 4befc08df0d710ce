import time_machine
from django.core import mail
from django.urls import reverse

from accounts.models import ApiKey, AuditEntry, EndUser, Membership, RelyingParty, Tenant
from payments.invoicing.documents import invoice_issue
from payments.models import Invoice, PaymentAccount
from tests.factories import DEFAULT_PASSWORD
from tests.licenses.conftest import buy, jst

TERMS = {"no_renewal": "on", "no_refund": "on", "free_limits": "on", "open_invoices": "on"}


def test_cancellation_needs_every_term_then_a_review_then_confirm(
    owner_client, tenant, django_capture_on_commit_callbacks
):
    buy(tenant, "business", jst(2027, 3, 1))
    url = reverse("contract_cancel", args=[tenant.slug])
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        owner_client.force_login(tenant.representative)  # a session from "today" has expired by 2027
        page = owner_client.get(reverse("contract", args=[tenant.slug])).content.decode()
        assert "Service continues until 2027-04-01 00:00 JST" in page
        missing = owner_client.post(url, {"no_renewal": "on", "no_refund": "on"})
        assert missing.status_code == 400
        assert missing.content.decode().count("Tick this box to agree.") == 2
        review = owner_client.post(url, TERMS)
        assert "Review the contract cancellation" in review.content.decode()
        tenant.license.refresh_from_db()
        assert tenant.license.auto_renew  # nothing changed yet
        with django_capture_on_commit_callbacks(execute=True):
            done = owner_client.post(url, {**TERMS, "step": "confirm"}, follow=True)
    assert "The contract is cancelled. Service continues until 2027-04-01 00:00 JST." in done.content.decode()
    tenant.license.refresh_from_db()
    assert not tenant.license.auto_renew
    assert AuditEntry.objects.filter(tenant=tenant, action="license.cancelled").exists()
    assert any("service ends on 2027-04-01" in m.subject for m in mail.outbox)


def test_only_owners_cancel(client, tenant, billing_admin):
    buy(tenant, "business", jst(2027, 3, 1))
    client.force_login(billing_admin)
    assert "Only an owner" in client.get(reverse("contract", args=[tenant.slug])).content.decode()
    assert (
        client.post(reverse("contract_cancel", args=[tenant.slug]), {**TERMS, "step": "confirm"}).status_code
        == 403
    )


def test_paid_tenants_are_told_to_contact_the_operator(owner_client, tenant):
    buy(tenant, "starter", jst(2027, 3, 1))
    url = reverse("unsubscribe", args=[tenant.slug])
    assert "contact us to unsubscribe" in owner_client.get(url).content.decode()
    owner_client.post(url, {"confirm_name": tenant.name})
    assert Tenant.objects.get(pk=tenant.pk).status == Tenant.Status.ACTIVE


def test_only_the_representative_unsubscribes(client, tenant, billing_admin):
    client.force_login(billing_admin)
    url = reverse("unsubscribe", args=[tenant.slug])
    assert "Only the customer's representative" in client.get(url).content.decode()
    assert client.post(url, {"confirm_name": tenant.name}).status_code == 403


def test_free_tenant_unsubscribes_deleting_its_information_and_keeping_invoices(
    owner_client, tenant, owner, manager
):
    RelyingParty.objects.create(tenant=tenant, rp_id="login.example")
    EndUser.objects.create(tenant=tenant, user_id="u1")
    ApiKey.objects.create(name="k", scope="tenant", tenant=tenant, prefix="bp_x", key_hash="h" * 64)
    from payments.charging.customers import payment_account_create

    payment_account_create(tenant=tenant, name="Payer", email="payer@example.test")
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="old",
        billing_date=jst(2027, 1, 1).date(),
        lines=[{"description": "January", "amount": 1000}],
    )
    url = reverse("unsubscribe", args=[tenant.slug])
    wrong = owner_client.post(url, {"confirm_name": "something else"})
    assert "exactly to confirm" in wrong.content.decode()
    assert Membership.objects.filter(tenant=tenant).exists()

    response = owner_client.post(
        url, {"confirm_name": tenant.name, "password": DEFAULT_PASSWORD}, follow=True
    )
    assert "has been unsubscribed" in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.CLOSED and tenant.name.startswith("Closed customer")
    for model in (Membership, RelyingParty, EndUser, ApiKey, PaymentAccount):
        assert not model.objects.filter(tenant=tenant).exists(), model
    kept = Invoice.objects.get(pk=invoice.pk)
    assert kept.payment_amount == invoice.payment_amount and kept.buyer_email == ""
    assert AuditEntry.objects.filter(tenant=tenant, action="tenant.unsubscribed").exists()
    # The former members reach nothing of it any more.
    owner_client.force_login(manager)
    assert owner_client.get(reverse("customer_view", args=[tenant.slug])).status_code == 404
