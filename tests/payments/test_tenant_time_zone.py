"""Issue 11: every date a person sees and every number series follows the tenant's time zone, not UTC."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from billing_portal.common.exceptions import ApplicationError
from payments.invoicing.credit_notes import credit_note_issue
from payments.invoicing.credits import credit_code_issue, credit_code_redeem
from payments.invoicing.documents import invoice_issue
from payments.models import Invoice
from tests.factories import UserFactory
from tests.licenses.conftest import buy

TOKYO = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db


def jst(*args):
    return datetime(*args, tzinfo=TOKYO)


def test_credit_note_at_0500_jst_on_1_january_belongs_to_the_new_year(tenant):
    with time_machine.travel(jst(2026, 12, 20), tick=False):
        invoice = invoice_issue(
            tenant=tenant,
            kind="monthly",
            source_key="dec",
            billing_date=date(2026, 12, 1),
            lines=[{"description": "Starter", "amount": 25_000}],
        )
    with time_machine.travel(jst(2027, 1, 1, 5, 0), tick=False):  # 2026-12-31 20:00 UTC
        note = credit_note_issue(invoice=invoice, amount=1_000, reason="Outage")
    assert note.number == "2027-00001"
    assert note.billing_date == date(2027, 1, 1)


def test_expired_credit_code_message_gives_the_local_date(tenant):
    with time_machine.travel(jst(2027, 3, 1), tick=False):
        code = credit_code_issue(
            name="Spring", amount=1_000, currency="JPY", expires_at=jst(2027, 4, 1, 8, 0)
        )
    with time_machine.travel(jst(2027, 4, 2), tick=False), pytest.raises(ApplicationError) as exc:
        credit_code_redeem(tenant=tenant, code=code.code)
    assert exc.value.message == "This credit code expired on 2027-04-01 08:00 JST."


def staff(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_lists_show_the_tenants_local_time(client, tenant):
    buy(tenant, "starter", jst(2027, 3, 1))
    staff(client)
    licenses = client.get(reverse("admin:licenses_license_changelist")).content.decode()
    assert "2027-03-01 00:00 JST" in licenses and "2027-04-01 00:00 JST" in licenses
    license_page = client.get(
        reverse("admin:licenses_license_change", args=[tenant.license.pk])
    ).content.decode()
    assert "2027-03-01 00:00 JST" in license_page  # plan history
    assert "UTC</td>" not in license_page
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="k",
        billing_date=date(2027, 4, 1),
        lines=[{"description": "Starter", "amount": 25_000}],
    )
    Invoice.objects.filter(pk=invoice.pk).update(issued_at=jst(2027, 4, 1, 0, 30))
    invoices = client.get(reverse("admin:payments_invoice_changelist")).content.decode()
    assert "2027-04-01 00:30 JST" in invoices


def test_run_billing_cycle_without_a_date_invoices_each_tenants_current_month(tenant):
    buy(tenant, "starter", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 4, 1, 5, 0), tick=False):  # still 31 March in UTC
        call_command("run_billing_cycle", "--no-progress")
    assert Invoice.objects.filter(tenant=tenant, kind="monthly", billing_date=date(2027, 4, 1)).exists()


def test_admin_dates_are_entered_in_the_operators_time_zone(client, tenant):
    from payments.models import CreditCode

    staff(client)
    client.post(
        reverse("admin:payments_creditcode_add"),
        {
            "name": "Year end",
            "currency": "JPY",
            "amount": 3000,
            "expires_at_0": "2027-03-31",
            "expires_at_1": "23:59:59",
            "redemption_limit": 5,
        },
    )
    code = CreditCode.objects.get(name="Year end")
    assert code.expires_at == jst(2027, 3, 31, 23, 59, 59)  # not 23:59:59 UTC (08:59 JST on 1 April)
    assert (
        "2027-03-31 23:59 JST" in client.get(reverse("admin:payments_creditcode_changelist")).content.decode()
    )
