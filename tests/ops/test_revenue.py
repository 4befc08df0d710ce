"""The revenue dashboard against a small history whose figures are computed by hand (in the comments)."""

import re
from datetime import date

import pytest
import time_machine

from licenses.selectors import plan_get
from licenses.services import license_cancel, license_change_now, license_reserve_change, licenses_roll_over
from ops.models import TestClock
from payments.invoicing.credits import credit_grant
from payments.invoicing.documents import invoice_issue
from payments.models import Credit, Invoice, Payment
from tests.factories import TenantFactory
from tests.licenses.conftest import buy, jst

pytestmark = pytest.mark.django_db

NOW = jst(2027, 4, 20, 12)


def _cell(html, table, row_attr, col):
    """The text of column `col` in the row `row_attr` of table `table` (tags stripped)."""
    section = re.search(rf'data-table="{table}".*?</table>', html, re.S).group(0)
    row = re.search(rf"<tr {row_attr}>.*?</tr>", section, re.S).group(0)
    cell = re.search(rf'data-col="{col}">(.*?)</td>', row, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", cell).split())


def _link(html, table, row_attr, col):
    section = re.search(rf'data-table="{table}".*?</table>', html, re.S).group(0)
    row = re.search(rf"<tr {row_attr}>.*?</tr>", section, re.S).group(0)
    cell = re.search(rf'data-col="{col}">(.*?)</td>', row, re.S).group(1)
    match = re.search(r'href="[^"]*id__in=([0-9,]+)"', cell)
    return sorted(int(i) for i in match.group(1).split(",")) if match else []


def _invoice(tenant, *, day, lines, method=Invoice.PaymentMethod.CARD, key=None):
    with time_machine.travel(jst(day.year, day.month, day.day, 9), tick=False):
        return invoice_issue(
            tenant=tenant,
            kind=Invoice.Kind.MONTHLY,
            source_key=key or f"t-{tenant.pk}-{day}",
            lines=[{"description": d, "amount": a} for d, a in lines],
            billing_date=day,
            payment_method=method,
        )


@pytest.fixture
def history():
    jpy = lambda code: plan_get(code=code, currency="JPY")  # noqa: E731
    a, b, f, e = (TenantFactory(name=n) for n in ("Alpha", "Bravo", "Foxtrot", "Echo"))
    c = TenantFactory(name="Charlie", currency="USD", country="US", time_zone="America/Los_Angeles")
    d = TenantFactory(name="Delta (test)")
    TestClock.objects.create(tenant=d, frozen_time=jst(2027, 3, 1))

    # A: Starter from 10 Jan (new ¥25,000), Business from 15 Feb (expansion ¥3,000), a downgrade to Starter
    # reserved for April (contraction ¥3,000 in April).
    buy(a, "starter", jst(2027, 1, 10))
    with time_machine.travel(jst(2027, 2, 15), tick=False):
        licenses_roll_over(tenant=a)
        license_change_now(tenant=a, plan=jpy("business"), proration_behavior="always_invoice")
    with time_machine.travel(jst(2027, 3, 5), tick=False):
        licenses_roll_over(tenant=a)
        license_reserve_change(tenant=a, plan=jpy("starter"))
    with time_machine.travel(jst(2027, 4, 1, 1), tick=False):
        licenses_roll_over(tenant=a)
    # B: Business from 1 Feb (new ¥28,000), cancelled, Free from 1 Mar (churned ¥28,000).
    buy(b, "business", jst(2027, 2, 1))
    with time_machine.travel(jst(2027, 2, 20), tick=False):
        license_cancel(tenant=b)
    with time_machine.travel(jst(2027, 3, 1, 1), tick=False):
        licenses_roll_over(tenant=b)
    # C (USD): Starter $250.00 from 5 Mar (new $250.00). D, a test tenant, Enterprise: left out everywhere.
    buy(c, "starter", jst(2027, 3, 5))
    buy(d, "enterprise", jst(2027, 3, 1))

    # Invoices: MAU overage ¥4,500 in March (A), $12.34 in April (C), ¥9,999 of the test tenant.
    a_march = _invoice(
        a, day=date(2027, 3, 1), lines=[("Business", 28_000), ("MAU overage (above 1,000 MAU)", 4_500)]
    )
    c_april = _invoice(
        c, day=date(2027, 4, 1), lines=[("Starter", 25_000), ("MAU overage (above 1,000 MAU)", 1_234)]
    )
    _invoice(d, day=date(2027, 4, 1), lines=[("Enterprise", 150_000), ("MAU overage (above 1 MAU)", 9_999)])
    # A's April invoice failed: ¥25,000 + 10% = ¥27,500.
    a_april = _invoice(a, day=date(2027, 4, 1), lines=[("Starter", 25_000)])
    Invoice.objects.filter(pk=a_april.pk).update(status=Invoice.Status.FAILED, attempt_count=1)
    with time_machine.travel(jst(2027, 4, 5, 9), tick=False):
        Payment.objects.create(
            tenant=a,
            invoice=a_april,
            amount_minor=27_500,
            currency="JPY",
            idempotency_key="t-a-april-1",
            status=Payment.Status.FAILED,
        )
    # Bank transfer: B's February invoice ¥30,800 (78 days old on 20 Apr), F's April one ¥11,000 (19 days).
    b_feb = _invoice(
        b, day=date(2027, 2, 1), lines=[("Business", 28_000)], method=Invoice.PaymentMethod.BANK_TRANSFER
    )
    f_apr = _invoice(
        f, day=date(2027, 4, 1), lines=[("Setup", 10_000)], method=Invoice.PaymentMethod.BANK_TRANSFER
    )
    # Credits: A ¥5,000 of which ¥1,200 used (¥3,800 outstanding); B's ¥2,000 expired; the test tenant's left out.
    with time_machine.travel(jst(2027, 1, 2), tick=False):
        credit_a = credit_grant(
            tenant=a,
            name="Goodwill",
            amount_minor=5_000,
            currency="JPY",
            source=Credit.Source.MANUAL,
            source_key="t-credit-a",
        )
        credit_grant(
            tenant=b,
            name="Expired",
            amount_minor=2_000,
            currency="JPY",
            source=Credit.Source.MANUAL,
            source_key="t-credit-b",
            expires_at=jst(2027, 4, 1),
        )
        credit_grant(
            tenant=d,
            name="Test",
            amount_minor=7_777,
            currency="JPY",
            source=Credit.Source.MANUAL,
            source_key="t-credit-d",
        )
    Credit.objects.filter(pk=credit_a.pk).update(amount_used=1_200)
    return {
        "a_march": a_march,
        "a_april": a_april,
        "c_april": c_april,
        "b_feb": b_feb,
        "f_apr": f_apr,
        "credit_a": credit_a,
        "e": e,
    }


def test_revenue_page_matches_the_hand_computed_history(history, client, admin_user):
    with time_machine.travel(NOW, tick=False):
        client.force_login(admin_user)
        response = client.get("/admin/revenue/")
        assert response.status_code == 200
        html = response.content.decode()
        listing = client.get(f"/admin/payments/invoice/?id__in={history['b_feb'].pk}").content.decode()

    def mrr(month, col="mrr", currency="JPY"):
        return _cell(html, f"mrr-{currency}", f'data-month="{month}"', col)

    # MRR (JPY): Jan A ¥25,000; Feb A+B ¥56,000; Mar A ¥28,000; Apr A ¥25,000 (the downgrade); before: ¥0.
    assert [mrr(m) for m in ("2026-12", "2027-01", "2027-02", "2027-03", "2027-04")] == [
        "¥0",
        "¥25,000",
        "¥56,000",
        "¥28,000",
        "¥25,000",
    ]
    assert mrr("2027-04", "arr") == "¥300,000"
    assert mrr("2027-01", "new") == "¥25,000 (1)"
    assert (mrr("2027-02", "new"), mrr("2027-02", "expansion")) == ("¥28,000 (1)", "¥3,000 (1)")
    assert (mrr("2027-03", "churned"), mrr("2027-03", "contraction")) == ("¥28,000 (1)", "¥0")
    assert (mrr("2027-04", "contraction"), mrr("2027-04", "churned")) == ("¥3,000 (1)", "¥0")
    # USD on its own (never added to yen): C from March.
    assert [mrr(m, currency="USD") for m in ("2027-02", "2027-03", "2027-04")] == [
        "$0.00",
        "$250.00",
        "$250.00",
    ]
    assert mrr("2027-03", "new", "USD") == "$250.00 (1)"
    assert 'data-figure="mrr-JPY"' in html and "¥25,000" in _figure(html, "mrr-JPY")
    assert _figure(html, "arr-USD") == "$3,000.00"
    # Paid tenants per plan now: Starter JPY 1 (A), Starter USD 1 (C); Enterprise (the test tenant) absent.
    assert _cell(html, "plans", 'data-plan="starter-JPY"', "tenants") == "1"
    assert _cell(html, "plans", 'data-plan="starter-USD"', "tenants") == "1"
    assert 'data-plan="enterprise-JPY"' not in html and 'data-plan="business-JPY"' not in html
    # MAU overage: ¥4,500 in March, $12.34 in April; the test tenant's ¥9,999 left out.
    assert _cell(html, "overage-JPY", 'data-month="2027-03"', "amount") == "¥4,500"
    assert _cell(html, "overage-JPY", 'data-month="2027-04"', "amount") == "¥0"
    assert _cell(html, "overage-USD", 'data-month="2027-04"', "amount") == "$12.34"
    # Failed payments: one attempt of ¥27,500 in April; one invoice unpaid, ¥27,500.
    assert _cell(html, "failed-JPY", 'data-month="2027-04"', "count") == "1"
    assert _cell(html, "failed-JPY", 'data-month="2027-04"', "amount") == "¥27,500"
    assert _cell(html, "failed-now", 'data-currency="JPY"', "amount") == "¥27,500"
    # Open bank transfers by age: ¥11,000 at 19 days, ¥30,800 at 78 days.
    assert _cell(html, "bank-JPY", 'data-age="0–30 days"', "amount") == "¥11,000"
    assert _cell(html, "bank-JPY", 'data-age="61–90 days"', "amount") == "¥30,800"
    assert _cell(html, "bank-JPY", 'data-age="over 90 days"', "amount") == "¥0"
    assert "78 days" in html and "19 days" in html
    # Credits outstanding: ¥3,800 (the expired one and the test tenant's left out).
    assert _cell(html, "credits", 'data-currency="JPY"', "amount") == "¥3,800"

    # Each figure links to the invoices behind it.
    assert _link(html, "mrr-JPY", 'data-month="2027-03"', "mrr") == [history["a_march"].pk]
    assert _link(html, "mrr-JPY", 'data-month="2027-03"', "arr") == [history["a_march"].pk]
    assert _link(html, "overage-JPY", 'data-month="2027-03"', "amount") == [history["a_march"].pk]
    assert _link(html, "overage-USD", 'data-month="2027-04"', "amount") == [history["c_april"].pk]
    assert _link(html, "failed-JPY", 'data-month="2027-04"', "count") == [history["a_april"].pk]
    assert _link(html, "bank-JPY", 'data-age="61–90 days"', "count") == [history["b_feb"].pk]
    assert _link(html, "bank-JPY", 'data-age="0–30 days"', "count") == [history["f_apr"].pk]
    assert _link(html, "mrr-JPY", 'data-month="2027-04"', "contraction") == [history["a_april"].pk]
    # …and the link opens the admin list of exactly those invoices.
    assert history["b_feb"].number in listing and "1 invoice" in listing
    # the chart is drawn from the same figures
    assert 'id="revenue-data"' in html and 'src="/static/vendor/chartjs/chart.umd.min.js"' in html


def _figure(html, name):
    return " ".join(
        re.sub(
            r"<[^>]+>", " ", re.search(rf'data-figure="{name}">(.*?)</strong>', html, re.S).group(1)
        ).split()
    )


def test_revenue_page_is_for_staff_only(client, owner):
    client.force_login(owner)
    response = client.get("/admin/revenue/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_support_plans_count_in_mrr_until_they_end():
    from licenses.support import support_cancel, support_change, support_plan_get
    from ops import revenue
    from tests.payments.factories import account_for, card_for

    tenant = TenantFactory(name="Support Co")
    account_for(tenant)
    card_for(tenant)
    buy(tenant, "starter", jst(2027, 1, 10))
    with time_machine.travel(jst(2027, 1, 20), tick=False):
        support_change(tenant=tenant, plan=support_plan_get(tenant=tenant, code="standard-support"))
    with time_machine.travel(jst(2027, 2, 10), tick=False):
        support_cancel(tenant=tenant)
    with time_machine.travel(jst(2027, 3, 2), tick=False):
        from licenses.support import support_get

        support_get(tenant=tenant)  # rolls it over: ended on 1 March
        report = revenue.dashboard(months=3)
    rows = {row["month"]: row["mrr"] for row in report["mrr"]["JPY"]}
    # Jan and Feb: Starter ¥25,000 + Standard support ¥20,000; March: the support plan has ended.
    assert (rows["2027-01"], rows["2027-02"], rows["2027-03"]) == (45_000, 45_000, 25_000)
