import pytest
from django.urls import reverse

from payments.charging import gateway as stripe_gateway
from payments.models import PaymentAccount
from tests.payments.factories import account_for


def dashboard(tenant):
    return reverse("billing_dashboard", kwargs={"tenant_slug": tenant.slug})


def test_dashboard_state_1_offers_the_create_form(owner_client, tenant):
    page = owner_client.get(dashboard(tenant)).content.decode()
    assert "Create payment account" in page
    assert 'name="name"' in page and 'name="email"' in page


def test_owner_creates_the_payment_account_at_stripe(owner_client, tenant):
    url = reverse("payment_account_create", kwargs={"tenant_slug": tenant.slug})
    response = owner_client.post(url, {"name": "Pat Payer", "email": "pat@example.test"}, follow=True)
    page = response.content.decode()
    account = PaymentAccount.objects.get(tenant=tenant)
    assert account.stripe_customer_id.startswith("cus_")
    assert "Payment account created." in page
    assert account.stripe_customer_id in page and "Pat Payer" in page and "pat@example.test" in page
    assert "Check payment information (Stripe)" in page
    customer = stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)
    assert (customer["name"], customer["email"]) == ("Pat Payer", "pat@example.test")


def test_bad_input_is_shown_and_kept_and_nothing_created(owner_client, tenant):
    url = reverse("payment_account_create", kwargs={"tenant_slug": tenant.slug})
    response = owner_client.post(url, {"name": "Pat Payer", "email": "not-an-email"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid email address." in page
    assert 'value="Pat Payer"' in page
    assert not PaymentAccount.objects.filter(tenant=tenant).exists()


def test_billing_admin_may_create_manager_may_not(client, tenant, billing_admin, manager):
    url = reverse("payment_account_create", kwargs={"tenant_slug": tenant.slug})
    client.force_login(manager)
    assert "Only the owner or a billing admin" in client.get(dashboard(tenant)).content.decode()
    assert client.post(url, {"name": "M", "email": "m@example.test"}).status_code == 403
    assert not PaymentAccount.objects.exists()
    client.force_login(billing_admin)
    assert client.post(url, {"name": "B", "email": "b@example.test"}).status_code == 302
    assert PaymentAccount.objects.get(tenant=tenant).name == "B"


def test_manager_sees_the_account_read_only(client, tenant, manager):
    account = account_for(tenant)
    client.force_login(manager)
    page = client.get(dashboard(tenant)).content.decode()
    assert account.stripe_customer_id in page
    assert "Check payment information (Stripe)" not in page
    portal = reverse("customer_portal", kwargs={"tenant_slug": tenant.slug})
    assert client.post(portal).status_code == 403


def test_customer_portal_uses_the_named_standin_page(owner_client, tenant):
    account_for(tenant, name="Portal Payer")
    response = owner_client.post(reverse("customer_portal", kwargs={"tenant_slug": tenant.slug}))
    standin = reverse("stripe_portal_standin", kwargs={"tenant_slug": tenant.slug})
    assert response.status_code == 302 and response.url == standin
    page = owner_client.get(standin).content.decode()
    assert "local stand-in" in page and "Portal Payer" in page


def test_standin_page_does_not_exist_with_real_stripe(owner_client, tenant, settings):
    settings.STRIPE_API_BASE = ""
    assert (
        owner_client.get(reverse("stripe_portal_standin", kwargs={"tenant_slug": tenant.slug})).status_code
        == 404
    )


def test_stripe_unreachable_is_a_message_not_a_500(owner_client, tenant, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens on the discard port
    url = reverse("payment_account_create", kwargs={"tenant_slug": tenant.slug})
    response = owner_client.post(url, {"name": "Pat Payer", "email": "pat@example.test"})
    assert response.status_code == 200
    assert "Stripe could not be reached" in response.content.decode()
    assert not PaymentAccount.objects.exists()


def test_creating_twice_keeps_one_account(tenant):
    first = account_for(tenant)
    again = account_for(tenant, name="Other")
    assert first.pk == again.pk and again.name == "Pat Payer"


def test_missing_secret_key_is_a_clear_error(tenant, settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(stripe_gateway.StripeNotConfigured, match="STRIPE_SECRET_KEY"):
        account_for(tenant)
