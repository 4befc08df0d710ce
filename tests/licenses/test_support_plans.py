"""Support plans: a second plan category, bought, changed (prorated) and cancelled on its own, billed on its own
lines, and only with a registered payment method."""

import pytest
import time_machine
from django.urls import reverse

from licenses.models import SupportSubscription
from licenses.selectors import license_get
from licenses.support import support_get, support_plan_get
from payments.invoicing.cycle import monthly_invoice_issue
from payments.invoicing.selectors import credit_balance
from payments.models import Invoice
from tests.licenses.conftest import buy, jst
from tests.payments.factories import charges_per_invoice
from tests.payments.test_exactly_once import paying_tenant

pytestmark = pytest.mark.django_db


def text(response):
    import re

    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def lines(invoice):
    return [(line.description, line.amount) for line in invoice.lines.all()]


def confirm(client, tenant, code):
    return client.get(reverse("support_change", args=[tenant.slug]), {"plan": code})


def choose(client, tenant, code):
    page = confirm(client, tenant, code)
    expected = page.context["charge"]["total"] if page.context["charge"] else ""
    return client.post(
        reverse("support_change", args=[tenant.slug]), {"plan": code, "expected_total": expected}
    )


def test_buy_change_and_cancel_support_independently_of_the_license(
    owner_client, django_capture_on_commit_callbacks
):
    tenant = paying_tenant()
    owner_client.force_login(tenant.representative)
    with time_machine.travel(jst(2027, 3, 1), tick=False), django_capture_on_commit_callbacks(execute=True):
        owner_client.force_login(tenant.representative)
        assert (
            owner_client.post(reverse("license_change", args=[tenant.slug]), {"plan": "business"}).status_code
            == 302
        )
    with time_machine.travel(jst(2027, 3, 22), tick=False), django_capture_on_commit_callbacks(execute=True):
        owner_client.force_login(tenant.representative)
        page = text(confirm(owner_client, tenant, "standard-support"))
        assert "Remaining time on Standard support ¥6,452" in page  # ¥20,000 × 10/31
        assert "Charged now, tax included ¥7,097" in page
        assert choose(owner_client, tenant, "standard-support").status_code == 302
    purchase = Invoice.objects.get(
        tenant=tenant, source_key__startswith="plan-change-", lines__description__contains="Standard"
    )
    assert lines(purchase)[0][1] == 6_452 and purchase.payment_amount == 7_097
    assert charges_per_invoice(tenant)[str(purchase.pk)] == 1
    assert license_get(tenant=tenant).plan.code == "business"  # the license is untouched

    with time_machine.travel(jst(2027, 3, 25), tick=False), django_capture_on_commit_callbacks(execute=True):
        owner_client.force_login(tenant.representative)
        page = text(confirm(owner_client, tenant, "premium-support"))
        assert "Unused time on Standard support" in page
        assert choose(owner_client, tenant, "premium-support").status_code == 302
    assert support_get(tenant=tenant).plan.code == "premium-support"

    with time_machine.travel(jst(2027, 4, 1, 0, 10), tick=False):
        april = monthly_invoice_issue(tenant=tenant, year=2027, month=4)
    descriptions = [d for d, _ in lines(april)]
    assert any("Business" in d for d in descriptions) and ("Premium support fee", 50_000) in lines(april)

    with time_machine.travel(jst(2027, 4, 10), tick=False):
        owner_client.force_login(tenant.representative)
        assert "Support continues until 2027-05-01 00:00 JST" in text(
            owner_client.get(reverse("support_cancel", args=[tenant.slug]))
        )
        owner_client.post(reverse("support_cancel", args=[tenant.slug]))
    with time_machine.travel(jst(2027, 5, 1, 0, 10), tick=False):
        may = monthly_invoice_issue(tenant=tenant, year=2027, month=5)
        assert not any("support" in d.lower() for d, _ in lines(may))
        assert SupportSubscription.objects.get(tenant=tenant).status == "ended"
        assert support_get(tenant=tenant) is None


def test_a_support_downgrade_credits_only_what_was_billed(tenant):
    from licenses.support import support_change
    from tests.payments.factories import account_for, card_for

    account_for(tenant)
    card_for(tenant)
    with time_machine.travel(jst(2027, 3, 1), tick=False):
        support_change(tenant=tenant, plan=support_plan_get(tenant=tenant, code="premium-support"))
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        change = support_change(tenant=tenant, plan=support_plan_get(tenant=tenant, code="standard-support"))
    assert change.difference_amount == -9_677  # (¥20,000 − ¥50,000) × 10/31
    assert credit_balance(tenant=tenant) == 9_677


def test_support_needs_a_payment_method_and_says_so(owner_client, tenant):
    from tests.licenses.conftest import add_payment_account

    add_payment_account(tenant)
    page = text(confirm(owner_client, tenant, "premium-support"))
    assert "register your payment method" in page.lower()
    response = owner_client.post(reverse("support_change", args=[tenant.slug]), {"plan": "premium-support"})
    assert response.status_code == 400 and not SupportSubscription.objects.exists()


def test_the_dashboard_shows_license_and_support_as_two_categories_with_their_own_edit(owner_client, tenant):
    buy(tenant, "starter", jst(2027, 3, 1))
    page = owner_client.get(reverse("billing_dashboard", args=[tenant.slug])).content.decode()
    assert "License information" in page and "Support plan" in page
    assert 'aria-label="Edit support plan"' in page and reverse("support_plans", args=[tenant.slug]) in page


def test_billing_admins_buy_support_but_only_owners_cancel_it(
    client, billing_admin, manager, django_capture_on_commit_callbacks
):
    tenant = billing_admin.memberships.first().tenant
    from tests.payments.factories import account_for, card_for

    account_for(tenant)
    card_for(tenant)
    client.force_login(billing_admin)
    with django_capture_on_commit_callbacks(execute=True):
        assert choose(client, tenant, "standard-support").status_code == 302
    assert client.get(reverse("support_cancel", args=[tenant.slug])).status_code in (403, 404)
    client.force_login(manager)
    assert client.get(reverse("support_plans", args=[tenant.slug])).status_code in (403, 404)
    assert support_get(tenant=tenant).auto_renew


def test_a_free_tenant_with_a_running_support_plan_cannot_unsubscribe(tenant):
    from licenses.support import support_change
    from payments.unsubscribe import tenant_unsubscribe
    from tests.payments.factories import account_for, card_for

    account_for(tenant)
    card_for(tenant)
    support_change(tenant=tenant, plan=support_plan_get(tenant=tenant, code="standard-support"))
    with pytest.raises(Exception, match="cancel the support plan"):
        tenant_unsubscribe(tenant=tenant, actor=tenant.representative)
    assert support_get(tenant=tenant) is not None
