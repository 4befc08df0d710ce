"""Coupons and promotion codes: the discount line, its order (discounts, then credits, then tax), durations,
restrictions, the confirmation pages, admin, and no double redemption under concurrency."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from accounts.models import RelyingParty
from licenses.selectors import plan_get
from licenses.services import license_purchase
from metering.services import auth_events_ingest
from payments.invoicing.credits import credit_grant
from payments.invoicing.cycle import monthly_invoice_issue
from payments.invoicing.discounts import coupon_attach, discount_lines
from payments.invoicing.preview import upcoming_invoice_preview
from payments.models import Coupon, Credit, Discount, Invoice
from tests.factories import TenantFactory
from tests.licenses.conftest import jst
from tests.payments.factories import charges_per_invoice
from tests.payments.test_exactly_once import paying_tenant

pytestmark = pytest.mark.django_db


def coupon(**kwargs):
    fields = {
        "name": "Spring",
        "kind": "percent",
        "percent_off": Decimal("20"),
        "applies_to": "license",
        "duration": "forever",
    }
    fields.update(kwargs)
    plans = fields.pop("plans", [])
    made = Coupon.objects.create(**fields)
    made.plans.set(plans)
    return made


def with_card(tenant):
    from tests.payments.factories import account_for, card_for

    account_for(tenant)
    card_for(tenant)


def on_business(tenant, at):
    if not hasattr(tenant, "payment_account"):
        with_card(tenant)
    with time_machine.travel(at, tick=False):
        return license_purchase(tenant=tenant, plan=plan_get(code="business", currency=tenant.currency))


def lines(invoice):
    return [(line.description.split(" (")[0], line.amount) for line in invoice.lines.all()]


def test_discounts_come_off_before_credits_and_tax(tenant):
    on_business(tenant, jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 10), tick=False):
        coupon_attach(tenant=tenant, coupon=coupon(), source="admin")
    credit_grant(
        tenant=tenant,
        name="Goodwill",
        amount_minor=1_000,
        currency="JPY",
        source=Credit.Source.MANUAL,
        source_key=f"g-{tenant.pk}",
    )
    with time_machine.travel(jst(2027, 4, 1, 0, 10), tick=False):
        april = monthly_invoice_issue(tenant=tenant, year=2027, month=4)
    assert ("Discount: Spring", -5_600) in lines(april)  # 20 % of the ¥28,000 license fee
    # ¥28,000 − ¥5,600 = ¥22,400; credit ¥1,000 → ¥21,400; tax 10 % = ¥2,140 → ¥23,540
    assert (
        april.usage_amount,
        april.credit_applied,
        april.determined_amount,
        april.tax_amount,
        april.payment_amount,
    ) == (22_400, 1_000, 21_400, 2_140, 23_540)
    assert april.discount_applications.get().amount == 5_600


def test_a_usage_coupon_leaves_the_license_fee_alone(django_capture_on_commit_callbacks):
    tenant = TenantFactory()
    on_business(tenant, jst(2027, 3, 1))
    coupon_attach(
        tenant=tenant,
        coupon=coupon(name="Usage half", percent_off=Decimal("50"), applies_to="usage"),
        source="admin",
    )
    RelyingParty.objects.create(tenant=tenant, rp_id="rp.example")
    events = [
        {
            "id": f"e{i}",
            "rp": "rp.example",
            "user_id": f"u{i}",
            "occurred_at": (jst(2027, 3, 5) + timedelta(seconds=i)).isoformat(),
        }
        for i in range(10_007)
    ]
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(jst(2027, 3, 20), tick=False):
        auth_events_ingest(tenant=tenant, events=events[:10_000])
        auth_events_ingest(tenant=tenant, events=events[10_000:])
    with time_machine.travel(jst(2027, 4, 1, 0, 10), tick=False):
        april = monthly_invoice_issue(tenant=tenant, year=2027, month=4)
    amounts = dict(lines(april))
    assert amounts["Discount: Usage half"] == -70  # half of 7 MAU above 10,000 × ¥20 = ¥140
    assert april.usage_amount == 28_000 + 140 - 70


def test_first_three_months_free_issues_zero_invoices_then_bills_the_fourth(
    owner_client, django_capture_on_commit_callbacks
):
    tenant = paying_tenant()
    owner_client.force_login(tenant.representative)
    free = coupon(
        name="First three months free",
        promotion_code="WELCOME3",
        percent_off=Decimal("100"),
        applies_to="all",
        duration="repeating",
        duration_months=3,
    )
    url = reverse("license_change", args=[tenant.slug])
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        owner_client.force_login(tenant.representative)
        page = owner_client.get(url, {"plan": "business", "promotion_code": "welcome3"}).content.decode()
        assert "First three months free" in page and "−¥9,032" in page  # shown before anything changes
        assert not Discount.objects.exists()
        with django_capture_on_commit_callbacks(execute=True):
            response = owner_client.post(url, {"plan": "business", "promotion_code": "welcome3"})
        assert response.status_code == 302
    purchase = Invoice.objects.get(tenant=tenant, kind="proration")
    assert (purchase.usage_amount, purchase.payment_amount, purchase.status) == (0, 0, "successful")
    assert charges_per_invoice(tenant) == {}  # nothing charged at Stripe
    results = []
    for month in (4, 5, 6):
        with time_machine.travel(jst(2027, month, 1, 0, 10), tick=False):
            results.append(monthly_invoice_issue(tenant=tenant, year=2027, month=month).payment_amount)
    assert results == [0, 0, 30_800]  # March, April and May free; June billed (¥28,000 + tax)
    free.refresh_from_db()
    assert free.redeemed_count == 1


def test_a_once_coupon_discounts_one_invoice_and_a_fixed_amount_is_bound_to_its_currency(tenant):
    on_business(tenant, jst(2027, 3, 1))
    once = coupon(
        name="Welcome", kind="amount", percent_off=None, amount_off=5_000, currency="JPY", duration="once"
    )
    coupon_attach(tenant=tenant, coupon=once, source="admin")
    totals = []
    for month in (4, 5):
        with time_machine.travel(jst(2027, month, 1, 0, 10), tick=False):
            totals.append(monthly_invoice_issue(tenant=tenant, year=2027, month=month).usage_amount)
    assert totals == [23_000, 28_000]
    us = TenantFactory(country="US", currency="USD", time_zone="America/New_York")
    with pytest.raises(Exception, match="for JPY accounts"):
        coupon_attach(tenant=us, coupon=once, source="admin")


def test_a_fixed_amount_on_a_mid_month_purchase_is_prorated_like_the_plan(tenant):
    from payments.invoicing.cycle import immediate_invoices_issue

    with_card(tenant)
    coupon_attach(
        tenant=tenant,
        coupon=coupon(kind="amount", percent_off=None, amount_off=3_100, currency="JPY"),
        source="admin",
        plan=plan_get(code="business", currency="JPY"),
    )
    with time_machine.travel(jst(2027, 3, 22), tick=False):
        license_purchase(tenant=tenant, plan=plan_get(code="business", currency="JPY"))
        invoice = immediate_invoices_issue(tenant=tenant)[0]
    assert dict(lines(invoice))["Discount: Spring"] == -1_000  # ¥3,100 × 10/31 of the month


def test_restricted_expired_and_used_up_codes_are_refused_with_the_reason(owner_client, tenant):
    with_card(tenant)
    coupon(
        name="Enterprise only", promotion_code="BIGCO", plans=[plan_get(code="enterprise", currency="JPY")]
    )
    coupon(name="Old", promotion_code="OLD", redeem_by=jst(2026, 1, 1))
    coupon(name="Gone", promotion_code="GONE", redemption_limit=1, redeemed_count=1)
    url = reverse("license_change", args=[tenant.slug])
    for code, reason in [
        ("BIGCO", "only for the Enterprise license"),
        ("OLD", "has expired"),
        ("GONE", "has been used up"),
        ("NOPE", "not valid"),
    ]:
        page = owner_client.get(url, {"plan": "business", "promotion_code": code}).content.decode()
        assert reason in page and f'value="{code}"' in page
        response = owner_client.post(url, {"plan": "business", "promotion_code": code})
        assert response.status_code == 400 and reason in response.content.decode()
    assert tenant.license.plan.code == "free" and not Discount.objects.exists()  # nothing changed


def test_full_width_promotion_codes_are_accepted(owner_client, tenant):
    coupon(name="Zenkaku", promotion_code="SPRING26")
    from tests.licenses.conftest import add_payment_account

    add_payment_account(tenant)
    page = owner_client.get(
        reverse("license_change", args=[tenant.slug]),
        {"plan": "business", "promotion_code": "ｓｐｒｉｎｇ２６"},
    ).content.decode()
    assert "Zenkaku" in page and "not valid" not in page


def test_promotion_code_on_the_billing_page_confirms_then_applies(owner_client, tenant):
    coupon(name="Loyalty", promotion_code="LOYAL", duration="repeating", duration_months=2)
    url = reverse("promotion_code_confirm", args=[tenant.slug])
    page = owner_client.get(url, {"promotion_code": "loyal"}).content.decode()
    assert "20% off license fees for 2 months" in page and not Discount.objects.exists()
    response = owner_client.post(url, {"promotion_code": "loyal"}, follow=True)
    body = response.content.decode()
    assert "Promotion “Loyalty” applied" in body and 'data-testid="discounts"' in body
    again = owner_client.post(url, {"promotion_code": "loyal"}, follow=True).content.decode()
    assert "already used this promotion code" in again
    assert Discount.objects.filter(tenant=tenant).count() == 1


def test_managers_cannot_apply_promotion_codes(client, tenant, manager):
    coupon(name="Loyalty", promotion_code="LOYAL")
    client.force_login(manager)
    response = client.post(reverse("promotion_code_confirm", args=[tenant.slug]), {"promotion_code": "LOYAL"})
    assert response.status_code in (403, 404) and not Discount.objects.exists()


def test_the_upcoming_invoice_preview_shows_the_discount(tenant):
    on_business(tenant, jst(2027, 3, 1))
    coupon_attach(tenant=tenant, coupon=coupon(), source="admin")
    with time_machine.travel(jst(2027, 3, 15), tick=False):
        preview = upcoming_invoice_preview(tenant=tenant)
    assert any(
        line["amount"] == -5_600 and line["description"].startswith("Discount: Spring")
        for line in preview["lines"]
    )
    assert preview["usage_amount"] == 22_400


def test_two_discounts_never_take_more_than_the_eligible_amount(tenant):
    a = Discount(
        tenant=tenant,
        coupon=coupon(name="A", percent_off=Decimal("70")),
        source="admin",
        starts_on=jst(2027, 1, 1).date(),
    )
    b = Discount(
        tenant=tenant,
        coupon=coupon(name="B", kind="amount", percent_off=None, amount_off=5_000, currency="JPY"),
        source="admin",
        starts_on=jst(2027, 1, 1).date(),
    )
    applied = discount_lines(
        tenant=tenant,
        lines=[{"amount": 10_000, "category": "license"}, {"amount": 500, "category": "usage"}],
        billing_date=jst(2027, 4, 1).date(),
        plan=None,
        discounts=[a, b],
    )
    assert [line["amount"] for _d, line in applied] == [-7_000, -3_000]  # the second takes what is left


@pytest.mark.django_db(transaction=True)
def test_a_limited_code_is_not_redeemed_twice_by_concurrent_tenants():
    limited = coupon(name="One only", promotion_code="ONE", redemption_limit=1)
    tenants = [TenantFactory(), TenantFactory(), TenantFactory()]
    barrier = threading.Barrier(len(tenants))
    outcomes = []

    def redeem(tenant):
        try:
            barrier.wait(timeout=30)
            coupon_attach(tenant=tenant, coupon=limited, source="promotion_code")
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - the refused ones
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(t,)) for t in tenants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("ok") == 1 and Discount.objects.count() == 1
    limited.refresh_from_db()
    assert limited.redeemed_count == 1


def test_ops_create_a_coupon_with_field_errors_and_attach_it_in_admin(admin_client, tenant):
    add = reverse("admin:payments_coupon_add")
    bad = admin_client.post(
        add, {"name": "x", "kind": "amount", "applies_to": "all", "duration": "repeating", "active": "on"}
    ).content.decode()
    assert "Enter the amount off" in bad and "choose it" in bad and "For how many months" in bad
    response = admin_client.post(
        add,
        {
            "name": "Sales deal",
            "kind": "percent",
            "percent_off": "15",
            "applies_to": "license",
            "duration": "forever",
            "active": "on",
            "promotion_code": " deal-15 ",
        },
    )
    assert response.status_code == 302
    made = Coupon.objects.get(name="Sales deal")
    assert made.promotion_code == "DEAL-15"
    response = admin_client.post(
        reverse("admin:payments_discount_add"), {"tenant": tenant.pk, "coupon": made.pk}
    )
    assert response.status_code == 302
    discount = Discount.objects.get(tenant=tenant)
    assert discount.source == "admin"
