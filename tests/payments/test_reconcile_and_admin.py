import io

from django.core.management import call_command
from django.urls import reverse

from payments.charging import gateway as stripe_gateway
from payments.demo import seed
from payments.models import PaymentAccount, PaymentMethod, PaymentSettings
from tests.factories import TenantFactory
from tests.payments.factories import account_for, card_for


def _reconcile(*args):
    out = io.StringIO()
    call_command("stripe_reconcile", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_reconcile_reports_then_fixes_drift(tenant):
    account = account_for(tenant)
    card = card_for(tenant)
    stripe_gateway.customer_update(
        customer_id=account.stripe_customer_id, email="changed@example.test", idempotency_key="r1"
    )
    stripe_gateway.payment_method_detach(
        payment_method_id=card.stripe_payment_method_id, idempotency_key="r2"
    )

    report = _reconcile()
    assert "DRIFT" in report and "changed@example.test" in report and "no longer at Stripe" in report
    assert "2 difference(s)" in report
    account.refresh_from_db()
    assert account.email == "pat@example.test" and PaymentMethod.objects.exists()  # report only

    assert "fixed" in _reconcile("--fix")
    account.refresh_from_db()
    assert account.email == "changed@example.test" and not PaymentMethod.objects.exists()
    assert "0 difference(s)" in _reconcile()


def test_admin_creates_a_stripe_customer_for_a_sales_led_tenant(admin_client, tenant):
    response = admin_client.post(
        reverse("admin:payments_paymentaccount_add"),
        {
            "tenant": tenant.pk,
            "stripe_customer_id": "",
            "name": "Sales Payer",
            "email": "sales@example.test",
        },
    )
    assert response.status_code == 302
    account = PaymentAccount.objects.get(tenant=tenant)
    assert account.stripe_customer_id.startswith("cus_")
    assert stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)["name"] == "Sales Payer"


def test_admin_links_an_existing_customer(admin_client, tenant):
    customer = stripe_gateway.customer_create(
        name="Existing Co", email="ex@example.test", tenant_slug="x", idempotency_key="a1"
    )
    response = admin_client.post(
        reverse("admin:payments_paymentaccount_add"),
        {
            "tenant": tenant.pk,
            "stripe_customer_id": customer["id"],
            "name": "",
            "email": "",
        },
    )
    assert response.status_code == 302
    account = PaymentAccount.objects.get(tenant=tenant)
    assert (account.stripe_customer_id, account.name, account.email) == (
        customer["id"],
        "Existing Co",
        "ex@example.test",
    )


def test_admin_form_refuses_incomplete_input(admin_client, tenant):
    response = admin_client.post(
        reverse("admin:payments_paymentaccount_add"),
        {
            "tenant": tenant.pk,
            "stripe_customer_id": "",
            "name": "",
            "email": "",
        },
    )
    assert response.status_code == 200
    assert "Enter a Stripe customer ID to link, or the payer name and e-mail" in response.content.decode()
    assert not PaymentAccount.objects.exists()


def test_admin_enters_billing_information(admin_client, tenant):
    response = admin_client.post(
        reverse("admin:payments_paymentsettings_add"),
        {
            "tenant": tenant.pk,
            "method": "bank_transfer",
            "billing_address": "2-2 Otemachi, Tokyo",
        },
    )
    assert response.status_code == 302
    assert PaymentSettings.objects.get(tenant=tenant).method == "bank_transfer"


def test_demo_seed_is_idempotent(db):
    tenants = {slug: TenantFactory(slug=slug) for slug in ("acme", "beta", "gamma", "delta")}
    out = io.StringIO()
    seed(tenants=tenants, users={}, stdout=out)
    first = dict(PaymentAccount.objects.values_list("tenant__slug", "stripe_customer_id"))
    seed(tenants=tenants, users={}, stdout=out)
    assert dict(PaymentAccount.objects.values_list("tenant__slug", "stripe_customer_id")) == first
    assert set(first) == {"beta", "gamma", "delta"}


def test_demo_seed_warns_when_stripe_is_down(db, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    out = io.StringIO()
    seed(tenants={"beta": TenantFactory(slug="beta")}, users={}, stdout=out)
    assert "warning: no Stripe customer for beta" in out.getvalue()
    assert not PaymentAccount.objects.exists()


def test_admin_refresh_finishes_an_attempt_that_never_got_a_payment_intent_id(admin_client, tenant):

    from payments.charging.charge import invoice_charge
    from payments.models import Invoice, Payment
    from tests.payments.factories import answer_lost, charges_per_invoice
    from tests.payments.test_exactly_once import due_invoice

    account_for(tenant)
    card_for(tenant)
    invoice = due_invoice(tenant)
    with answer_lost("charge_off_session"):
        invoice_charge(invoice=invoice)
    payment = Payment.objects.get(invoice=invoice)
    assert payment.stripe_payment_intent_id == ""
    admin_client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "refresh_from_stripe", "_selected_action": [payment.pk]},
    )
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == Payment.Status.SUCCESSFUL and invoice.status == Invoice.Status.SUCCESSFUL
    assert charges_per_invoice(tenant) == {str(invoice.pk): 1}


def test_changing_the_payer_name_back_reaches_stripe(tenant):
    from payments.charging.customers import payment_account_update

    account = account_for(tenant, name="First")
    account = payment_account_update(account=account, name="Second", email=account.email)
    account = payment_account_update(account=account, name="First", email=account.email)
    assert stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)["name"] == "First"
