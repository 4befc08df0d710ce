import io
import threading
from datetime import date, timedelta
from unittest import mock

import pytest
from django.db import connection
from pypdf import PdfReader

from accounts.models import AuditEntry
from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError
from payments.invoicing import pdf as documents_pdf
from payments.invoicing import receipts
from payments.invoicing.credits import credit_code_issue, credit_code_redeem, credit_grant, format_code
from payments.invoicing.documents import invoice_issue, invoice_status_set
from payments.invoicing.selectors import credit_balance
from payments.models import Credit, CreditCode, Invoice
from tests.factories import TenantFactory

BASE_FEE = [
    {"description": "Starter license, April 2026", "amount": 25_000, "quantity": 1, "unit_amount": 25_000}
]


def issue(tenant, key="monthly-1", lines=BASE_FEE, billing_date=date(2026, 4, 1), **kw):
    return invoice_issue(
        tenant=tenant, kind="monthly", source_key=key, lines=lines, billing_date=billing_date, **kw
    )


def test_reference_downgrade_credit_makes_the_next_invoice_24032_before_tax(tenant):
    credit_grant(
        tenant=tenant,
        name="Plan change Business → Starter",
        amount_minor=968,
        currency="JPY",
        source="proration",
        source_key="proration-7",
    )
    invoice = issue(tenant)
    assert (invoice.usage_amount, invoice.credit_applied, invoice.determined_amount) == (25_000, 968, 24_032)
    assert invoice.tax_amount == 2_403  # 10% of 24,032 = 2,403.2, rounded once
    assert invoice.payment_amount == 26_435
    assert credit_balance(tenant=tenant) == 0
    assert AuditEntry.objects.filter(tenant=tenant, action="invoice.issued").count() == 1


def test_credit_codes_first_by_earliest_expiry_then_balance(tenant):
    now = clock.now()
    balance = credit_grant(
        tenant=tenant,
        name="Proration",
        amount_minor=10_000,
        currency="JPY",
        source="proration",
        source_key="p1",
    )
    late = credit_grant(
        tenant=tenant,
        name="Late code",
        amount_minor=10_000,
        currency="JPY",
        source="credit_code",
        source_key="c-late",
        expires_at=now + timedelta(days=90),
    )
    early = credit_grant(
        tenant=tenant,
        name="Early code",
        amount_minor=10_000,
        currency="JPY",
        source="credit_code",
        source_key="c-early",
        expires_at=now + timedelta(days=10),
    )
    invoice = issue(tenant)
    used = {a.credit_id: a.amount for a in invoice.credit_applications.all()}
    assert used == {early.pk: 10_000, late.pk: 10_000, balance.pk: 5_000}
    balance.refresh_from_db()
    assert balance.amount_available == 5_000
    assert invoice.payment_amount == 0 and invoice.status == Invoice.Status.SUCCESSFUL


def test_expired_credit_is_not_applied(tenant):
    credit_grant(
        tenant=tenant,
        name="Old",
        amount_minor=500,
        currency="JPY",
        source="credit_code",
        source_key="old",
        expires_at=clock.now() - timedelta(seconds=1),
    )
    assert issue(tenant).credit_applied == 0


def test_zero_amount_lines_are_kept_and_usd_tax_rounds_once(db):
    tenant = TenantFactory(currency="USD", country="US")
    lines = [{"description": "Base fee", "amount": 4_999}, {"description": "API calls (0)", "amount": 0}]
    invoice = issue(tenant, lines=lines)
    assert [line.amount for line in invoice.lines.all()] == [4_999, 0]
    assert invoice.tax_amount == 500  # 499.9 cents → 500
    assert invoice.payment_amount == 5_499


def test_issuing_twice_returns_the_same_invoice_and_numbers_are_gap_free(tenant, other_tenant):
    first = issue(tenant, key="a")
    assert issue(tenant, key="a").pk == first.pk
    second = issue(tenant, key="b")
    other = issue(other_tenant, key="c")
    next_year = issue(tenant, key="d", billing_date=date(2027, 1, 1))
    assert (first.number, second.number, other.number, next_year.number) == (
        "2026-00001",
        "2026-00002",
        "2026-00001",
        "2027-00001",
    )
    # A failed issue (here: a negative total) consumes no number.
    with pytest.raises(ApplicationError):
        issue(tenant, key="e", lines=[{"description": "x", "amount": -1}])
    assert issue(tenant, key="f").number == "2026-00003"


@pytest.mark.django_db(transaction=True)
def test_concurrent_issue_creates_one_invoice():
    tenant = TenantFactory()
    credit_grant(tenant=tenant, name="c", amount_minor=1_000, currency="JPY", source="manual", source_key="m")
    results, errors = [], []

    def worker():
        try:
            results.append(issue(tenant, key="monthly-concurrent").pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    assert Invoice.objects.filter(tenant=tenant).count() == 1
    assert Credit.objects.get(tenant=tenant).amount_used == 1_000


# --- credit codes -------------------------------------------------------------------------------------------


def make_code(**kw):
    defaults = {
        "name": "Welcome credit",
        "amount": 3_000,
        "currency": "JPY",
        "expires_at": clock.now() + timedelta(days=30),
    }
    return credit_code_issue(**{**defaults, **kw})


def test_credit_codes_are_long_random_and_redeem_once(tenant, owner):
    code = make_code()
    assert len(code.code) == 16 and code.code.isalnum()
    assert make_code().code != code.code
    credit = credit_code_redeem(tenant=tenant, code=format_code(code.code).lower(), actor=owner)
    assert (credit.name, credit.amount_charged, credit.expires_at) == (
        "Welcome credit",
        3_000,
        code.expires_at,
    )
    with pytest.raises(ApplicationError, match="already registered"):
        credit_code_redeem(tenant=tenant, code=code.code, actor=owner)
    assert credit_balance(tenant=tenant) == 3_000


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda: "NOPE-NOPE-NOPE-NOPE", "not valid"),
        (lambda: make_code(expires_at=clock.now() - timedelta(days=1)).code, "expired on"),
        (lambda: make_code(currency="USD", amount=500).code, "is in USD"),
    ],
)
def test_bad_credit_codes_give_clear_errors(tenant, setup, message):
    with pytest.raises(ApplicationError, match=message):
        credit_code_redeem(tenant=tenant, code=setup())
    assert credit_balance(tenant=tenant) == 0


def test_redemption_limit(tenant, other_tenant):
    code = make_code(redemption_limit=1)
    credit_code_redeem(tenant=tenant, code=code.code)
    with pytest.raises(ApplicationError, match="already been used"):
        credit_code_redeem(tenant=other_tenant, code=code.code)


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_respect_the_limit():
    code = make_code(redemption_limit=1)
    tenants = [TenantFactory() for _ in range(4)]
    outcomes = []

    def worker(t):
        try:
            credit_code_redeem(tenant=t, code=code.code)
            outcomes.append("ok")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in tenants]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert CreditCode.objects.get(pk=code.pk).redeemed_count == 1


# --- receipts -----------------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_receipt_pdf_shows_seller_buyer_lines_credit_tax_and_total(tenant):
    credit_grant(
        tenant=tenant,
        name="Downgrade credit",
        amount_minor=968,
        currency="JPY",
        source="proration",
        source_key="p",
    )
    invoice = issue(tenant)
    invoice_status_set(invoice, Invoice.Status.SUCCESSFUL)  # a receipt exists once the invoice is paid
    text = pdf_text(receipts.receipt_pdf(invoice=invoice))
    for expected in [
        invoice.receipt_id,
        invoice.number,
        tenant.name,
        "Example FIDO2 Service",
        "Starter license, April 2026",
        "¥25,000",
        "Downgrade credit",
        "-¥968",
        "¥24,032",
        "¥2,403",
        "¥26,435",
    ]:
        assert expected in text, expected


def test_receipt_escapes_user_text_and_fetches_nothing(tenant):
    tenant.name = '<img src="http://198.51.100.7/track.png"> Evil & Co'
    tenant.save()
    invoice = issue(tenant)
    invoice_status_set(invoice, Invoice.Status.SUCCESSFUL)
    html = receipts.receipt_html(invoice=invoice)
    assert "&lt;img" in html and "<img" not in html
    # Only the bundled font is fetched (payments.invoicing.pdf.DocumentFetcher); anything else would be refused.
    with mock.patch.object(documents_pdf, "refuse_fetch", side_effect=AssertionError("fetched")) as fetch:
        pdf = receipts.receipt_pdf(invoice=invoice)
    fetch.assert_not_called()
    assert "Evil & Co" in " ".join(pdf_text(pdf).split())  # shown as text


def test_receipt_prints_the_period_in_the_customer_time_zone(tenant):
    from billing_portal.common.clock import month_bounds

    start, end = month_bounds(2026, 4, "Asia/Tokyo")  # stored in UTC: 31 Mar 15:00 – 30 Apr 15:00
    invoice = issue(tenant, period_start=start, period_end=end)
    # The last day included, not the exclusive end (1 May 00:00).
    assert "2026年4月1日〜2026年4月30日" in pdf_text(
        documents_pdf.document_pdf(invoice=invoice, kind="invoice")
    )
    english = documents_pdf.document_pdf(invoice=invoice, kind="invoice", language="en")
    assert "Apr 1, 2026 – Apr 30, 2026" in pdf_text(english)


def test_invoice_status_changes_only_through_its_transition_function(tenant):
    from billing_portal.common.exceptions import ApplicationError
    from payments.invoicing.documents import invoice_status_set
    from payments.models import Invoice

    invoice = issue(tenant)
    invoice_status_set(invoice, Invoice.Status.FAILED, next_attempt_at=None)
    invoice_status_set(invoice, Invoice.Status.SUCCESSFUL)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL and invoice.paid_at is not None
    with pytest.raises(ApplicationError, match="cannot become failed"):
        invoice_status_set(invoice, Invoice.Status.FAILED)  # paid is final (corrections are credit notes)
    with pytest.raises(ApplicationError, match="cannot become void"):
        invoice_status_set(invoice, Invoice.Status.VOID)  # only unpaid invoices are voided (reissue)
    unpaid = issue(tenant, key="unpaid-2")
    invoice_status_set(unpaid, Invoice.Status.VOID)
    with pytest.raises(ApplicationError, match="cannot become successful"):
        invoice_status_set(unpaid, Invoice.Status.SUCCESSFUL)  # void is final
