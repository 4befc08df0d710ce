"""Three months of one Tokyo tenant, through the real services, the Stripe stand-in and time travel.

Every figure is computed by hand (Starter ¥25,000, Business ¥28,000, Enterprise ¥150,000; tax 10% per invoice):
- 11 Mar: purchase Starter, 21 of 31 days left: 25,000 × 21/31 = 16,935.48 → ¥16,935; tax ¥1,694 (1,693.5);
  charged at once: ¥18,629.
- 22 Mar: Starter → Business, create_prorations, 10 of 31 days left: −¥8,064 / +¥9,032 (net +¥968), billed on 1 Apr.
- 1 Apr: Business ¥28,000 + ¥968 = ¥28,968; tax ¥2,897 (2,896.8) → ¥31,865. 5 Apr: the card is declined;
  retried on 8 Apr (3 days later) with a new card: paid.
- 10 Apr: Business → Enterprise, always_invoice, 21 of 30 days left: remaining 150,000 × 21/30 = ¥105,000,
  difference 122,000 × 21/30 = ¥85,400, unused ¥85,400 − ¥105,000 = −¥19,600; tax ¥8,540 → ¥93,940 charged at once.
- 15 Apr: Enterprise → Business, proration_behavior none: nothing billed now.
- 20 Apr: downgrade to Starter reserved for 1 May. 22 Apr: credit code of ¥5,000 registered.
- April MAU 10,005 on Business (max 10,000, ¥20 per MAU above): overage 5 × 20 = ¥100.
- 1 May: Starter ¥25,000 + overage ¥100 = ¥25,100; credit ¥5,000 → ¥20,100; tax ¥2,010 → ¥22,110; paid on 5 May.
"""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from pypdf import PdfReader

from accounts.models import RelyingParty
from licenses.models import ProrationItem
from licenses.selectors import plan_get
from licenses.services import license_change_now, license_purchase, license_reserve_change
from metering.services import auth_events_ingest
from payments.charging import cards
from payments.invoicing.credits import credit_code_issue, credit_code_redeem
from payments.invoicing.pdf import document_pdf
from payments.models import Invoice, Payment
from tests.factories import TenantFactory
from tests.payments.factories import CHARGE_FAILS, VISA, account_for, card_for

TOKYO = ZoneInfo("Asia/Tokyo")


def tokyo(*args):
    return datetime(*args, tzinfo=TOKYO)


def pdf_text(invoice):
    """The invoice PDF (請求書), available from issue; the receipt too once paid."""
    kinds = ["invoice", "receipt"] if invoice.status == Invoice.Status.SUCCESSFUL else ["invoice"]
    return " ".join(
        " ".join(
            p.extract_text()
            for kind in kinds
            for p in PdfReader(io.BytesIO(document_pdf(invoice=invoice, kind=kind))).pages
        ).split()
    )


def totals(invoice):
    invoice.refresh_from_db()
    return (
        invoice.usage_amount,
        invoice.credit_applied,
        invoice.determined_amount,
        invoice.tax_amount,
        invoice.payment_amount,
    )


def assert_pdf_matches(invoice, *amounts):
    text = pdf_text(invoice)
    for amount in amounts:
        assert amount in text, (amount, text)


@pytest.mark.django_db(transaction=True)
def test_three_months_of_billing(django_capture_on_commit_callbacks):
    run = django_capture_on_commit_callbacks
    with time_machine.travel(tokyo(2026, 3, 1, 9, 0), tick=False) as traveller:
        tenant = TenantFactory(name="Sato Trading K.K.", currency="JPY", country="JP", time_zone="Asia/Tokyo")
        account_for(tenant)
        card_for(tenant, number=VISA)
        starter, business, enterprise = (
            plan_get(code=c, currency="JPY") for c in ("starter", "business", "enterprise")
        )

        # 11 March: purchase, invoiced and charged at once.
        traveller.move_to(tokyo(2026, 3, 11))
        with run(execute=True):
            license_purchase(tenant=tenant, plan=starter)
        purchase = Invoice.objects.get(tenant=tenant, kind=Invoice.Kind.PRORATION)
        assert totals(purchase) == (16_935, 0, 16_935, 1_694, 18_629)
        assert purchase.status == Invoice.Status.SUCCESSFUL
        assert Payment.objects.get(invoice=purchase).status == Payment.Status.SUCCESSFUL
        assert_pdf_matches(purchase, "¥16,935", "¥1,694", "¥18,629", "Sato Trading K.K.")

        # 22 March (10 days left): upgrade with create_prorations: nothing billed now.
        traveller.move_to(tokyo(2026, 3, 22))
        with run(execute=True):
            license_change_now(
                tenant=tenant, plan=business, proration_behavior="create_prorations", by_operator=True
            )
        assert sorted(
            ProrationItem.objects.filter(tenant=tenant, status="pending").values_list(
                "amount_minor", flat=True
            )
        ) == [-8_064, 9_032]
        assert Invoice.objects.filter(tenant=tenant).count() == 1

        # 1 April: the monthly invoice (run twice: still one).
        traveller.move_to(tokyo(2026, 4, 1, 0, 5))
        mail.outbox.clear()
        with run(execute=True):
            call_command("run_billing_cycle", "--date", "2026-04-01", "--no-progress")
            call_command("run_billing_cycle", "--date", "2026-04-01", "--no-progress")
        april = Invoice.objects.get(tenant=tenant, kind=Invoice.Kind.MONTHLY, billing_date="2026-04-01")
        assert totals(april) == (28_968, 0, 28_968, 2_897, 31_865)
        # The March MAU overage line is kept at ¥0 (zero-amount lines stay on invoices).
        assert [line.amount for line in april.lines.all()] == [28_000, 0, -8_064, 9_032]
        assert april.number == "2026-00002"
        assert any("Invoice 2026-00002" in m.subject for m in mail.outbox)
        assert_pdf_matches(april, "¥28,000", "-¥8,064", "¥9,032", "¥2,897", "¥31,865")

        # Nothing is charged before the 5th.
        traveller.move_to(tokyo(2026, 4, 4, 12))
        call_command("charge_due_invoices", "--no-progress")
        assert not Payment.objects.filter(invoice=april).exists()

        # 5 April: the card on file now fails; the payment administrator is told when we retry.
        cards.card_remove(tenant=tenant, payment_method=tenant.payment_methods.get())
        card_for(tenant, number=CHARGE_FAILS)
        traveller.move_to(tokyo(2026, 4, 5, 1))
        mail.outbox.clear()
        with run(execute=True):
            call_command("charge_due_invoices", "--no-progress")
            call_command("charge_due_invoices", "--no-progress")  # a second run does not charge again
        april.refresh_from_db()
        assert april.status == Invoice.Status.FAILED
        assert april.payments.count() == 1
        assert april.next_attempt_at == tokyo(2026, 4, 8, 1)
        failed_mail = next(m for m in mail.outbox if "Payment failed" in m.subject)
        assert failed_mail.to == [tenant.payment_administrator.email]
        assert "2026-04-08" in failed_mail.body

        # 8 April: a new card, and the retry succeeds.
        cards.card_remove(tenant=tenant, payment_method=tenant.payment_methods.get())
        card_for(tenant, number=VISA)
        traveller.move_to(tokyo(2026, 4, 8, 2))
        with run(execute=True):
            call_command("charge_due_invoices", "--no-progress")
        april.refresh_from_db()
        assert april.status == Invoice.Status.SUCCESSFUL
        assert list(april.payments.order_by("pk").values_list("idempotency_key", "status")) == [
            (f"invoice-{april.pk}-attempt-1", "failed"),
            (f"invoice-{april.pk}-attempt-2", "successful"),
        ]

        # 10 April: upgrade with always_invoice, charged at once.
        traveller.move_to(tokyo(2026, 4, 10))
        with run(execute=True):
            license_change_now(tenant=tenant, plan=enterprise, proration_behavior="always_invoice")
        upgrade = Invoice.objects.filter(tenant=tenant, kind=Invoice.Kind.PRORATION).latest("pk")
        assert [line.amount for line in upgrade.lines.all()] == [-19_600, 105_000]
        assert totals(upgrade) == (85_400, 0, 85_400, 8_540, 93_940)
        assert upgrade.status == Invoice.Status.SUCCESSFUL

        # 15 April: proration none; 20 April: reserve a downgrade; 22 April: a credit code.
        traveller.move_to(tokyo(2026, 4, 15))
        with run(execute=True):
            license_change_now(tenant=tenant, plan=business, proration_behavior="none", by_operator=True)
        assert Invoice.objects.filter(tenant=tenant).count() == 3
        traveller.move_to(tokyo(2026, 4, 20))
        license_reserve_change(tenant=tenant, plan=starter)
        traveller.move_to(tokyo(2026, 4, 22))
        code = credit_code_issue(
            name="Spring campaign", amount=5_000, currency="JPY", expires_at=tokyo(2026, 6, 30)
        )
        credit_code_redeem(tenant=tenant, code=code.code)

        # April's MAU: 10,005 users, 5 above Business's 10,000.
        RelyingParty.objects.create(tenant=tenant, rp_id="login.sato.example")
        events = [
            {
                "id": f"e{i}",
                "rp": "login.sato.example",
                "user_id": f"u{i}",
                "occurred_at": (tokyo(2026, 4, 21) + timedelta(seconds=i)).isoformat(),
            }
            for i in range(10_005)
        ]
        with run(execute=True):
            auth_events_ingest(tenant=tenant, events=events[:10_000])
            auth_events_ingest(tenant=tenant, events=events[10_000:])

        # 1 May: the reservation applies; overage and credit.
        traveller.move_to(tokyo(2026, 5, 1, 0, 5))
        with run(execute=True):
            call_command("run_billing_cycle", "--date", "2026-05-01", "--no-progress")
        may = Invoice.objects.get(tenant=tenant, kind=Invoice.Kind.MONTHLY, billing_date="2026-05-01")
        assert totals(may) == (25_100, 5_000, 20_100, 2_010, 22_110)
        assert [line.amount for line in may.lines.all()] == [25_000, 100]
        tenant.license.refresh_from_db()
        assert tenant.license.plan == starter
        assert_pdf_matches(
            may, "¥25,000", "¥100", "Spring campaign", "-¥5,000", "¥20,100", "¥2,010", "¥22,110"
        )

        traveller.move_to(tokyo(2026, 5, 5, 9))
        with run(execute=True):
            call_command("charge_due_invoices", "--no-progress")
        may.refresh_from_db()
        assert may.status == Invoice.Status.SUCCESSFUL
        assert list(
            Invoice.objects.filter(tenant=tenant).order_by("pk").values_list("number", flat=True)
        ) == ["2026-00001", "2026-00002", "2026-00003", "2026-00004"]
        paid = sum(
            Payment.objects.filter(tenant=tenant, status="successful").values_list("amount_minor", flat=True)
        )
        assert paid == 18_629 + 31_865 + 93_940 + 22_110
