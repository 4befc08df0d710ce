"""Issue 17, invoice run: the set-based monthly run (payments.invoicing.monthly_run) issues exactly the invoices
the per-tenant service (cycle.monthly_invoice_issue) issues, over a mixed population; a re-run creates nothing
with a bounded number of queries; two runs at once still give one invoice per tenant and gap-free numbers."""

import threading
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEntry
from licenses.models import License, ProrationItem
from licenses.selectors import plan_get
from licenses.services import license_cancel, license_change_now
from licenses.support import support_change, support_plan_get
from metering.models import MauBilled, MauCounter
from payments.invoicing import cycle
from payments.invoicing.credits import credit_grant
from payments.invoicing.discounts import coupon_attach
from payments.invoicing.monthly_run import monthly_invoices_run
from payments.models import (
    Coupon,
    Credit,
    CreditApplication,
    DiscountApplication,
    Invoice,
    InvoiceNumberSequence,
    PaymentSettings,
)
from tests.factories import TenantFactory
from tests.licenses.conftest import add_payment_account, add_payment_method

pytestmark = pytest.mark.django_db

TOKYO, LA, UTC = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Los_Angeles"), ZoneInfo("UTC")
RUN_AT = datetime(2028, 3, 2, 0, 0, tzinfo=UTC)  # March 2028 has begun everywhere; February 2028 has 29 days


def set_mau(tenant, month: date, mau: int) -> None:
    """The PostgreSQL store's maintained counter (what the ingest statement keeps), set directly."""
    MauCounter.objects.update_or_create(
        tenant=tenant, month=month, rp_id=MauCounter.TENANT_TOTAL, defaults={"mau": mau, "events": mau}
    )


def tenant_on(code, *, currency="JPY", zone=TOKYO, bought=None, **fields):
    country = "JP" if currency == "JPY" else "US"
    tenant = TenantFactory(currency=currency, country=country, time_zone=str(zone), **fields)
    add_payment_account(tenant)
    add_payment_method(tenant)
    if code != "free":
        from licenses.services import license_purchase

        with time_machine.travel(bought or datetime(2028, 1, 1, tzinfo=zone), tick=False):
            license_purchase(tenant=tenant, plan=plan_get(code=code, currency=currency))
    return tenant


def population():
    """Every plan in both currencies, three time zones (Los Angeles changes to DST in March), MAU below / at /
    above the limit, credits, a discount, a support plan, prorations waiting for the invoice, late events of an
    invoiced month, a bank-transfer payer, a cancelled license, a purchase in February (leap year)."""
    t = {}
    t["starter_below"] = tenant_on("starter")
    t["starter_at"] = tenant_on("starter")
    t["starter_above"] = tenant_on("starter")
    t["business_usd_la"] = tenant_on("business", currency="USD", zone=LA)
    t["enterprise_utc"] = tenant_on("enterprise", zone=UTC)
    t["starter_usd_utc"] = tenant_on("starter", currency="USD", zone=UTC)
    t["credit"] = tenant_on("starter")
    t["credit_large"] = tenant_on("business", currency="USD", zone=LA)
    t["discount"] = tenant_on("starter")
    t["support"] = tenant_on("business")
    t["proration"] = tenant_on("starter")
    t["proration_la"] = tenant_on("starter", currency="USD", zone=LA)
    t["late"] = tenant_on("starter")
    t["billed_not_late"] = tenant_on("starter")
    t["bank_transfer"] = tenant_on("starter")
    t["cancelled"] = tenant_on("starter")
    t["bought_in_feb"] = tenant_on("business", bought=datetime(2028, 2, 10, 12, tzinfo=TOKYO))
    t["free"] = tenant_on("free")
    PaymentSettings.objects.update_or_create(tenant=t["bank_transfer"], defaults={"method": "bank_transfer"})

    jan, feb = date(2028, 1, 1), date(2028, 2, 1)
    for tenant in t.values():
        set_mau(tenant, jan, 40)
    set_mau(t["late"], jan, 1_000)
    set_mau(t["billed_not_late"], jan, 1_200)
    # February invoices (January's usage) through the per-tenant service: MauBilled for January.
    for tenant in t.values():
        local = datetime(2028, 2, 1, 1, tzinfo=ZoneInfo(tenant.time_zone))
        with time_machine.travel(local, tick=False):
            cycle.monthly_invoice_issue(tenant=tenant, year=2028, month=2)
    set_mau(t["late"], jan, 1_007)  # late events of January after its invoice: an adjustment on March's

    set_mau(t["starter_below"], feb, 999)
    set_mau(t["starter_at"], feb, 1_000)
    set_mau(t["starter_above"], feb, 1_003)
    set_mau(t["business_usd_la"], feb, 10_011)
    set_mau(t["enterprise_utc"], feb, 100_002)
    set_mau(t["starter_usd_utc"], feb, 1_050)
    set_mau(t["credit_large"], feb, 10_500)
    set_mau(t["proration"], feb, 1_001)
    set_mau(t["billed_not_late"], feb, 1_300)
    with time_machine.travel(datetime(2028, 2, 15, tzinfo=UTC), tick=False):
        credit_grant(
            tenant=t["credit"],
            name="Goodwill",
            amount_minor=3_000,
            currency="JPY",
            source=Credit.Source.MANUAL,
            source_key="m-credit",
        )
        credit_grant(
            tenant=t["credit_large"],
            name="Big",
            amount_minor=10_000_000,
            currency="USD",
            source=Credit.Source.MANUAL,
            source_key="m-credit-large",
        )
        coupon = Coupon.objects.create(
            name="Spring", kind="percent", percent_off=20, applies_to="license", duration="forever"
        )
        coupon_attach(tenant=t["discount"], coupon=coupon, source="admin")
        support_change(
            tenant=t["support"], plan=support_plan_get(tenant=t["support"], code="premium-support")
        )
        license_cancel(tenant=t["cancelled"])
    for key, zone in (("proration", TOKYO), ("proration_la", LA)):
        with time_machine.travel(datetime(2028, 2, 20, 12, tzinfo=zone), tick=False):
            license_change_now(
                tenant=t[key],
                plan=plan_get(code="business", currency=t[key].currency),
                proration_behavior="create_prorations",
                by_operator=True,
            )
    assert ProrationItem.objects.filter(
        tenant__in=[t["proration"], t["proration_la"]], billing=ProrationItem.Billing.NEXT_INVOICE
    ).exists()
    return t


def snapshot(tenants) -> dict:
    """Everything a monthly run writes, per tenant, without ids that differ between two runs."""
    result = {}
    for name, tenant in tenants.items():
        invoices = []
        for invoice in Invoice.objects.filter(tenant=tenant, kind=Invoice.Kind.MONTHLY).order_by("number"):
            invoices.append(
                {
                    field: getattr(invoice, field)
                    for field in (
                        "source_key",
                        "number",
                        "billing_date",
                        "period_start",
                        "period_end",
                        "issued_at",
                        "currency",
                        "usage_amount",
                        "credit_applied",
                        "determined_amount",
                        "tax_rate",
                        "tax_amount",
                        "payment_amount",
                        "status",
                        "paid_at",
                        "payment_method",
                        "due_date",
                        "next_attempt_at",
                        "seller_name",
                        "buyer_name",
                        "buyer_address",
                        "buyer_email",
                    )
                }
                | {
                    "lines": [
                        (line.position, line.description, line.quantity, line.unit_amount, line.amount)
                        for line in invoice.lines.all()
                    ],
                    "credits": sorted(
                        CreditApplication.objects.filter(invoice=invoice).values_list(
                            "credit__name", "amount"
                        )
                    ),
                    "discounts": sorted(
                        DiscountApplication.objects.filter(invoice=invoice).values_list(
                            "discount__coupon__name", "amount"
                        )
                    ),
                }
            )
        license = License.objects.get(tenant=tenant)
        result[name] = {
            "invoices": invoices,
            "mau_billed": sorted(
                MauBilled.objects.filter(tenant=tenant).values_list(
                    "month", "mau_billed", "overage_billed", "invoice_source_key"
                )
            ),
            "license": (
                license.plan_id,
                license.billed_plan_id,
                license.current_period_start,
                license.current_period_end,
            ),
            "credits": sorted(Credit.objects.filter(tenant=tenant).values_list("name", "amount_used")),
            "prorations": sorted(
                ProrationItem.objects.filter(tenant=tenant).values_list("description", "status")
            ),
            "sequences": sorted(
                InvoiceNumberSequence.objects.filter(tenant=tenant).values_list("year", "last_number")
            ),
            "audit": AuditEntry.objects.filter(tenant=tenant, action="invoice.issued").count(),
        }
    return result


def numbers_gap_free(tenants) -> bool:
    for tenant in tenants:
        numbers = sorted(Invoice.objects.filter(tenant=tenant).values_list("number", flat=True))
        by_year: dict = {}
        for number in numbers:
            year, n = number.split("-")
            by_year.setdefault(year, []).append(int(n))
        if any(ns != list(range(1, len(ns) + 1)) for ns in by_year.values()):
            return False
    return True


def test_set_based_run_issues_exactly_what_the_per_tenant_path_issues():
    tenants = population()
    ids = [tenant.pk for tenant in tenants.values()]
    with time_machine.travel(RUN_AT, tick=False):
        with transaction.atomic():  # the reference: per tenant, then rolled back
            for tenant in tenants.values():
                cycle.monthly_invoice_issue(tenant=tenant, year=2028, month=3)
            expected = snapshot(tenants)
            transaction.set_rollback(True)
        assert not Invoice.objects.filter(source_key__endswith="2028-03").exists()
        report = monthly_invoices_run(tenant_ids=ids, year=2028, month=3, batch_size=7)
    got = snapshot(tenants)
    for name in tenants:
        assert got[name] == expected[name], name
    # Both paths were exercised: discount, support, late events and the cancelled license per tenant; the Free
    # tenant has nothing to bill; the other 13 set-based.
    assert (report["issued"], report["per_tenant"], report["nothing"], report["failed"]) == (13, 4, 1, 0), (
        report
    )
    assert numbers_gap_free(tenants.values())
    # What a user sees on the March invoices.
    march = {name: s["invoices"][-1] for name, s in got.items() if s["invoices"]}
    assert march["starter_above"]["lines"][-1][1:] == ("MAU overage (above 1,000 MAU)", 3, 30, 90)
    assert march["starter_at"]["lines"][-1][4] == 0
    assert any("adjustment for 2028-01" in line[1] for line in march["late"]["lines"])
    assert not any("adjustment" in line[1] for line in march["billed_not_late"]["lines"])
    assert march["credit"]["credit_applied"] == 3_000
    assert march["credit_large"]["payment_amount"] == 0 and march["credit_large"]["status"] == "successful"
    assert march["business_usd_la"]["period_end"] == datetime(2028, 4, 1, tzinfo=LA)  # PDT by then
    assert march["bank_transfer"]["payment_method"] == "bank_transfer" and march["bank_transfer"]["due_date"]
    assert march["discount"]["discounts"]


def test_rerun_creates_nothing_with_a_bounded_number_of_queries():
    tenants = [tenant_on("starter") for _ in range(12)]
    ids = [tenant.pk for tenant in tenants]
    with time_machine.travel(RUN_AT, tick=False):
        first = monthly_invoices_run(tenant_ids=ids, year=2028, month=3, batch_size=5)
        assert first["issued"] == 12
        before = (Invoice.objects.count(), MauBilled.objects.count(), AuditEntry.objects.count())
        with CaptureQueriesContext(connection) as queries:
            again = monthly_invoices_run(tenant_ids=ids, year=2028, month=3, batch_size=5)
        due = cycle.tenants_to_invoice(at=RUN_AT)
    assert again == {"issued": 0, "per_tenant": 0, "existing": 12, "nothing": 0, "failed": 0}
    assert len(queries) == 3  # one per batch of 5, whatever the number of tenants in it
    assert (Invoice.objects.count(), MauBilled.objects.count(), AuditEntry.objects.count()) == before
    assert not set(due) & set(ids)


def test_a_batch_issues_its_invoices_in_a_bounded_number_of_queries():
    tenants = [tenant_on("starter") for _ in range(10)]
    for tenant in tenants:
        set_mau(tenant, date(2028, 2, 1), 1_010)
    with time_machine.travel(RUN_AT, tick=False):
        with CaptureQueriesContext(connection) as queries:
            report = monthly_invoices_run(tenant_ids=[t.pk for t in tenants], year=2028, month=3)
    assert report["issued"] == 10
    assert len(queries) < 25  # the same with 10 or 500 tenants in a batch (no per-tenant statement)
    invoice = Invoice.objects.get(tenant=tenants[0], source_key__endswith="2028-03")
    assert [(line.description, line.amount) for line in invoice.lines.all()] == [
        ("Starter license fee", 25_000),
        ("MAU overage (above 1,000 MAU)", 300),
    ]
    assert invoice.payment_amount == 27_830  # (25,000 + 300) + 10 % tax
    assert (
        MauBilled.objects.filter(tenant__in=tenants, month=date(2028, 2, 1), overage_billed=10).count() == 10
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("runs", [2, 4])
def test_concurrent_runs_give_one_invoice_per_tenant_and_gap_free_numbers(runs):
    tenants = [tenant_on("starter") for _ in range(8)]
    ids = [tenant.pk for tenant in tenants]
    barrier = threading.Barrier(runs)
    reports, errors = [], []

    def run(order):
        try:
            with time_machine.travel(RUN_AT, tick=False):
                barrier.wait()
                reports.append(monthly_invoices_run(tenant_ids=order, year=2028, month=3, batch_size=3))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(ids if i % 2 == 0 else ids[::-1],)) for i in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(r["issued"] + r["per_tenant"] for r in reports) == len(ids)
    assert sum(r["failed"] for r in reports) == 0
    for tenant in tenants:
        assert Invoice.objects.filter(tenant=tenant, source_key__endswith="2028-03").count() == 1
    assert numbers_gap_free(tenants)
    assert MauBilled.objects.filter(tenant__in=tenants, month=date(2028, 2, 1)).count() == len(ids)


def test_a_failed_batch_gives_its_numbers_back(monkeypatch):
    tenants = [tenant_on("starter") for _ in range(3)]
    from payments.invoicing import monthly_run

    def broken(*args, **kwargs):
        raise RuntimeError("crash after numbering")

    monkeypatch.setattr(monthly_run, "audit_record_many", broken)
    with time_machine.travel(RUN_AT, tick=False):
        with pytest.raises(RuntimeError):
            monthly_invoices_run(tenant_ids=[t.pk for t in tenants], year=2028, month=3)
        assert not Invoice.objects.filter(source_key__endswith="2028-03").exists()
        monkeypatch.undo()
        monthly_invoices_run(tenant_ids=[t.pk for t in tenants], year=2028, month=3)
    assert numbers_gap_free(tenants)


def test_the_hourly_tick_invoices_each_tenant_when_its_month_has_begun():
    from payments.tasks import billing_cycle_tick

    tokyo, la = tenant_on("starter"), tenant_on("starter", currency="USD", zone=LA)
    with time_machine.travel(datetime(2028, 3, 1, 0, 30, tzinfo=TOKYO), tick=False):  # still February in LA
        billing_cycle_tick()
    assert Invoice.objects.filter(tenant=tokyo, source_key__endswith="2028-03").exists()
    assert not Invoice.objects.filter(tenant=la, source_key__endswith="2028-03").exists()
    with time_machine.travel(datetime(2028, 3, 1, 0, 30, tzinfo=LA), tick=False):
        billing_cycle_tick()
        billing_cycle_tick()
    assert Invoice.objects.filter(tenant=la, source_key__endswith="2028-03").count() == 1
    assert Invoice.objects.filter(tenant=tokyo, source_key__endswith="2028-03").count() == 1
