"""The e-bookkeeping archive (電子帳簿保存法, docs/archive.md): every issued document's PDF stored at issue time
with its SHA-256; downloads return those bytes; nothing changes or deletes a stored row; ops search and export."""

import csv
import hashlib
import io
import threading
import zipfile
from datetime import date, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from accounts.models import AuditEntry, Tenant
from billing_portal.common import clock
from payments.charging.charge import invoice_charge
from payments.invoicing import archive, pdf
from payments.invoicing.credit_notes import credit_note_issue
from payments.invoicing.documents import invoice_issue, invoice_mark_paid_by_transfer
from payments.invoicing.tasks import archive_document
from payments.models import ArchivedDocument, ArchiveImmutable, Invoice, InvoiceLine
from payments.unsubscribe import tenant_unsubscribe
from tests.factories import TenantFactory, UserFactory
from tests.payments.factories import account_for, card_for
from tests.payments.test_upcoming_and_api import api

Kind = ArchivedDocument.Kind
TOKYO = ZoneInfo("Asia/Tokyo")


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def issue(tenant, key="archive-1", amount=10_000, **kwargs):
    return invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=key,
        billing_date=kwargs.pop("billing_date", date(2027, 4, 1)),
        lines=[{"description": kwargs.pop("description", "Starter license, April 2027"), "amount": amount}],
        **kwargs,
    )


def stored(kind, invoice):
    return ArchivedDocument.objects.filter(kind=kind, invoice=invoice).first()


@pytest.fixture
def staff(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


# --- stored at issue time -------------------------------------------------------------------------------------


def test_an_issued_invoice_is_archived_after_commit_with_its_sha256_and_search_fields(
    tenant, django_capture_on_commit_callbacks
):
    # 2027-03-31 16:30 UTC is already 1 April in Tokyo: the issue date is the tenant's calendar date.
    with time_machine.travel(datetime(2027, 3, 31, 16, 30, tzinfo=ZoneInfo("UTC")), tick=False):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            invoice = issue(tenant, payment_method=Invoice.PaymentMethod.BANK_TRANSFER)
        assert not ArchivedDocument.objects.exists()  # rendered after the commit, not inside issue
        for callback in callbacks:
            callback()
    document = stored(Kind.INVOICE, invoice)
    assert document is not None and not stored(Kind.RECEIPT, invoice)  # unpaid: no receipt yet
    data = bytes(document.pdf)
    assert data.startswith(b"%PDF") and document.sha256 == hashlib.sha256(data).hexdigest()
    assert (document.tenant, document.number, document.issue_date) == (
        tenant,
        invoice.number,
        date(2027, 4, 1),
    )
    assert (document.counterparty_name, document.amount, document.currency) == (tenant.name, 11_000, "JPY")
    assert document.language == "ja"  # a tenant in Japan
    assert tenant.name in pdf_text(data) and invoice.number in pdf_text(data)
    entry = AuditEntry.objects.get(tenant=tenant, action="document.archived")
    assert entry.data["sha256"] == document.sha256 and entry.data["kind"] == "invoice"


def test_a_card_payment_archives_the_receipt_on_the_payment_date(tenant, django_capture_on_commit_callbacks):
    account_for(tenant)
    card_for(tenant)
    with time_machine.travel(datetime(2027, 4, 5, 9, 0, tzinfo=TOKYO), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            invoice = issue(tenant, charge_at=clock.now() - timedelta(minutes=1))
    assert stored(Kind.INVOICE, invoice) and not stored(Kind.RECEIPT, invoice)
    with time_machine.travel(datetime(2027, 4, 6, 0, 30, tzinfo=TOKYO), tick=False):  # 5 April 15:30 UTC
        with django_capture_on_commit_callbacks(execute=True):
            invoice_charge(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL
    receipt = stored(Kind.RECEIPT, invoice)
    assert receipt.issue_date == date(2027, 4, 6) and receipt.amount == invoice.payment_amount
    assert "領収書" in pdf_text(bytes(receipt.pdf))  # the tenant's document language: Japanese


def test_a_bank_transfer_marked_paid_archives_the_receipt(tenant, django_capture_on_commit_callbacks):
    invoice = issue(tenant, payment_method=Invoice.PaymentMethod.BANK_TRANSFER)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_mark_paid_by_transfer(invoice=invoice, paid_at=datetime(2027, 4, 20, 10, tzinfo=TOKYO))
    receipt = stored(Kind.RECEIPT, invoice)
    assert receipt is not None and receipt.issue_date == date(2027, 4, 20)
    assert hashlib.sha256(bytes(receipt.pdf)).hexdigest() == receipt.sha256


def test_a_zero_invoice_is_paid_at_issue_and_gets_both_documents(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = issue(tenant, amount=0)
    assert {d.kind for d in ArchivedDocument.objects.filter(invoice=invoice)} == {Kind.INVOICE, Kind.RECEIPT}


def test_a_credit_note_is_archived_when_issued(tenant, django_capture_on_commit_callbacks):
    invoice = issue(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_issue(invoice=invoice, amount=1_000, reason="Wrong seat count")
    document = stored(Kind.CREDIT_NOTE, note)
    assert document is not None and document.amount == -1_100 and document.number == note.number
    assert (
        ArchivedDocument.objects.filter(invoice=note).count() == 1
    )  # a credit note is not also an "invoice"


def test_a_rolled_back_issue_archives_nothing(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            issue(tenant)
            raise RuntimeError("the caller's transaction fails")
    assert not Invoice.objects.filter(tenant=tenant).exists() and not ArchivedDocument.objects.exists()


# --- idempotent -------------------------------------------------------------------------------------------------


def test_a_retried_task_stores_once_and_renders_once(tenant):
    invoice = issue(tenant)
    with mock.patch.object(pdf, "document_pdf", wraps=pdf.document_pdf) as render:
        archive_document.delay(invoice.pk, "invoice")
        first = stored(Kind.INVOICE, invoice)
        archive_document.delay(invoice.pk, "invoice")
        archive_document.apply(args=(invoice.pk, "invoice"))
    assert render.call_count == 1
    assert ArchivedDocument.objects.filter(invoice=invoice).count() == 1
    assert stored(Kind.INVOICE, invoice).sha256 == first.sha256
    assert AuditEntry.objects.filter(action="document.archived").count() == 1


def test_the_database_refuses_a_second_row_for_the_same_document(tenant):
    invoice = issue(tenant)
    document = archive.document_archive(invoice=invoice, kind=Kind.INVOICE)
    with pytest.raises(IntegrityError), transaction.atomic():
        ArchivedDocument.objects.create(
            kind=Kind.INVOICE,
            tenant=tenant,
            invoice=invoice,
            number=invoice.number,
            issue_date=document.issue_date,
            counterparty_name="x",
            amount=1,
            currency="JPY",
            language="en",
            pdf=b"%PDF-other",
            sha256=hashlib.sha256(b"%PDF-other").hexdigest(),
        )


def test_a_receipt_is_refused_for_an_unpaid_invoice_and_an_invoice_kind_for_a_credit_note(tenant):
    invoice = issue(tenant)
    note = credit_note_issue(invoice=invoice, amount=100, reason="Goodwill")
    from billing_portal.common.exceptions import ApplicationError

    with pytest.raises(ApplicationError):
        archive.document_archive(invoice=invoice, kind=Kind.RECEIPT)
    with pytest.raises(ApplicationError):
        archive.document_archive(invoice=note, kind=Kind.INVOICE)
    assert not ArchivedDocument.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_archiving_stores_one_document_and_both_get_it():
    tenant = TenantFactory()
    invoice = issue(tenant)
    barrier = threading.Barrier(2, timeout=30)
    renders = iter([b"%PDF-1.7 first render", b"%PDF-1.7 second render"])
    lock = threading.Lock()

    def render(**kwargs):
        with lock:
            data = next(renders)
        barrier.wait()  # both have checked "not stored yet" and rendered before either inserts
        return data

    results, errors = [], []

    def run():
        try:
            results.append(archive.document_archive(invoice=invoice, kind=Kind.INVOICE))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    with mock.patch.object(pdf, "document_pdf", side_effect=render):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert ArchivedDocument.objects.filter(invoice=invoice).count() == 1
    kept = ArchivedDocument.objects.get(invoice=invoice)
    assert {r.pk for r in results} == {kept.pk} and {r.sha256 for r in results} == {kept.sha256}
    assert AuditEntry.objects.filter(action="document.archived").count() == 1


# --- a later download returns the identical bytes -------------------------------------------------------------


def test_downloads_return_the_stored_bytes_after_the_tenant_and_the_document_data_changed(
    owner_client, client, tenant, django_capture_on_commit_callbacks
):
    original_name = tenant.name
    with django_capture_on_commit_callbacks(execute=True):
        invoice = issue(tenant)
    document = stored(Kind.INVOICE, invoice)
    url = reverse("invoice_document", args=[tenant.slug, invoice.number])  # unpaid: its invoice (請求書)
    first = owner_client.get(url)
    assert first.status_code == 200 and first["Content-Type"] == "application/pdf"

    Tenant.objects.filter(pk=tenant.pk).update(name="Renamed Holdings K.K.")
    Invoice.objects.filter(pk=invoice.pk).update(buyer_name="Renamed Holdings K.K.")
    InvoiceLine.objects.filter(invoice=invoice).update(description="Business license (edited)")
    invoice.refresh_from_db()
    rerendered = pdf_text(pdf.document_pdf(invoice=invoice, kind="invoice"))
    assert "Renamed Holdings" in rerendered and "(edited)" in rerendered  # a fresh render would differ

    second = owner_client.get(url)
    by_api = api(client, f"/api/v1/tenants/{tenant.slug}/invoices/{invoice.number}/invoice.pdf")
    assert first.content == second.content == by_api.content == bytes(document.pdf)
    assert hashlib.sha256(second.content).hexdigest() == document.sha256
    assert original_name in pdf_text(second.content) and "Renamed" not in pdf_text(second.content)


def test_a_download_before_the_task_ran_archives_on_demand_and_the_task_then_keeps_it(owner_client, tenant):
    invoice = issue(tenant)  # no on-commit callbacks in this test: the task has not run
    assert stored(Kind.INVOICE, invoice) is None
    response = owner_client.get(reverse("invoice_document", args=[tenant.slug, invoice.number]))
    document = stored(Kind.INVOICE, invoice)
    assert response.content == bytes(document.pdf)
    archive_document.delay(invoice.pk, "invoice")  # the late task
    assert ArchivedDocument.objects.filter(invoice=invoice).count() == 1


def test_a_paid_invoice_downloads_its_receipt(owner_client, tenant, django_capture_on_commit_callbacks):
    invoice = issue(tenant, payment_method=Invoice.PaymentMethod.BANK_TRANSFER)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_mark_paid_by_transfer(invoice=invoice)
    response = owner_client.get(reverse("receipt_download", args=[tenant.slug, invoice.receipt_id]))
    assert response.content == bytes(stored(Kind.RECEIPT, invoice).pdf)


def test_downloads_are_isolated_per_tenant(client, tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = issue(tenant)
    other = TenantFactory()
    client.force_login(other.representative)
    assert client.get(reverse("receipt_download", args=[other.slug, invoice.receipt_id])).status_code == 404
    assert client.get(reverse("receipt_download", args=[tenant.slug, invoice.receipt_id])).status_code in (
        302,
        403,
        404,
    )
    foreign = api(client, f"/api/v1/tenants/{other.slug}/invoices/{invoice.receipt_id}/receipt.pdf")
    assert foreign.status_code == 404
    assert not ArchivedDocument.objects.filter(tenant=other).exists()
    assert ArchivedDocument.objects.filter(invoice=invoice).count() == 1


# --- nothing changes or deletes it --------------------------------------------------------------------------------


@pytest.fixture
def document(tenant):
    return archive.document_archive(invoice=issue(tenant), kind=Kind.INVOICE)


def test_the_trigger_refuses_update_and_delete_by_raw_sql(document):
    for sql in (
        "UPDATE payments_archiveddocument SET number = 'forged' WHERE id = %s",
        "UPDATE payments_archiveddocument SET pdf = '\\x00'::bytea WHERE id = %s",
        "DELETE FROM payments_archiveddocument WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="never changed or deleted"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [document.pk])
    fresh = ArchivedDocument.objects.get(pk=document.pk)
    assert (fresh.number, bytes(fresh.pdf)) == (document.number, bytes(document.pdf))


def test_the_trigger_refuses_update_and_delete_through_the_orm(document):
    with pytest.raises(DatabaseError, match="never changed or deleted"), transaction.atomic():
        ArchivedDocument.objects.filter(pk=document.pk).update(amount=1)
    with pytest.raises(DatabaseError, match="never changed or deleted"), transaction.atomic():
        ArchivedDocument.objects.filter(pk=document.pk).delete()
    assert ArchivedDocument.objects.get(pk=document.pk).amount == document.amount


def test_the_model_refuses_save_and_delete_of_a_stored_row(document):
    document.counterparty_name = "Someone else"
    with pytest.raises(ArchiveImmutable):
        document.save()
    with pytest.raises(ArchiveImmutable):
        document.delete()
    assert ArchivedDocument.objects.get(pk=document.pk).counterparty_name != "Someone else"


def test_the_invoice_and_the_tenant_cannot_be_deleted_under_a_stored_document(document, tenant):
    with pytest.raises(ProtectedError):
        document.invoice.delete()
    with pytest.raises(ProtectedError):
        Tenant.objects.filter(pk=tenant.pk).delete()
    with pytest.raises(IntegrityError, match="payments_archiveddocument"), transaction.atomic():
        with connection.cursor() as cursor:  # by hand, lines first: the archive's foreign key still refuses
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("DELETE FROM payments_invoiceline WHERE invoice_id = %s", [document.invoice_id])
            cursor.execute("DELETE FROM payments_invoice WHERE id = %s", [document.invoice_id])
    assert ArchivedDocument.objects.filter(pk=document.pk).exists()


def test_unsubscribe_and_its_data_deletion_keep_the_documents_and_their_counterparty(
    tenant, owner, django_capture_on_commit_callbacks
):
    name = tenant.name
    with django_capture_on_commit_callbacks(execute=True):
        invoice = issue(tenant, amount=0)  # a Free tenant: nothing open, so it may unsubscribe
        note = credit_note_issue(
            invoice=issue(tenant, key="archive-2", amount=500), amount=100, reason="Goodwill"
        )
    before = {d.pk: (d.sha256, bytes(d.pdf)) for d in ArchivedDocument.objects.filter(tenant=tenant)}
    assert len(before) == 4  # invoice + receipt of the ¥0 one, invoice of the second, the credit note
    Invoice.objects.filter(tenant=tenant, status=Invoice.Status.PENDING).update(status=Invoice.Status.VOID)

    with django_capture_on_commit_callbacks(execute=True):
        tenant_unsubscribe(tenant=tenant, actor=owner)
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.CLOSED and tenant.name != name  # anonymised …
    after = ArchivedDocument.objects.filter(tenant=tenant)
    assert {d.pk: (d.sha256, bytes(d.pdf)) for d in after} == before  # … the documents stay as issued
    assert {d.counterparty_name for d in after} == {name}
    assert stored(Kind.CREDIT_NOTE, note).counterparty_name == name
    assert name in pdf_text(bytes(stored(Kind.INVOICE, invoice).pdf))


def test_retention_is_a_setting(document, settings):
    assert settings.DOCUMENT_RETENTION_YEARS == 7
    assert archive.retention_until(document) == date(document.issue_date.year + 8, 12, 31)
    settings.DOCUMENT_RETENTION_YEARS = 10
    assert archive.retention_until(document) == date(document.issue_date.year + 11, 12, 31)


def test_the_sweep_archives_what_a_lost_message_left_and_only_recent_documents(tenant):
    with time_machine.travel(datetime(2027, 1, 10, 9, tzinfo=TOKYO), tick=False):
        old = issue(tenant, key="old")
    with time_machine.travel(datetime(2027, 4, 1, 9, tzinfo=TOKYO), tick=False):
        recent = issue(tenant, key="recent", amount=0)
        assert set(archive.documents_to_archive(since=clock.now() - timedelta(days=2))) == {
            (recent.pk, "invoice"),
            (recent.pk, "receipt"),
        }
        from payments.tasks import documents_archive_sweep

        assert documents_archive_sweep() == 2
        assert documents_archive_sweep() == 0
    assert not ArchivedDocument.objects.filter(invoice=old).exists()


# --- admin: read-only, search, export, download --------------------------------------------------------------


def _row(tenant, key, *, issued, name, amount, currency="JPY", kind=Kind.INVOICE):
    """A stored document with chosen search fields (the PDF is a stand-in: these tests are about the search)."""
    invoice = issue(tenant, key=key)
    data = f"%PDF-1.7 {key}".encode()
    return ArchivedDocument.objects.create(
        kind=kind,
        tenant=tenant,
        invoice=invoice,
        number=invoice.number,
        issue_date=issued,
        counterparty_name=name,
        amount=amount,
        currency=currency,
        language="ja",
        pdf=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )


@pytest.fixture
def documents(tenant):
    return {
        "acme_april": _row(tenant, "a", issued=date(2027, 4, 1), name="株式会社アクメ", amount=27_500),
        "acme_may": _row(tenant, "b", issued=date(2027, 5, 1), name="株式会社アクメ", amount=5_500),
        "beta_april": _row(tenant, "c", issued=date(2027, 4, 15), name="ベータ商事株式会社", amount=30_000),
        "acme_march": _row(tenant, "d", issued=date(2027, 3, 31), name="株式会社アクメ", amount=27_500),
        "usd": _row(tenant, "e", issued=date(2027, 4, 10), name="Acme Inc.", amount=25_000, currency="USD"),
    }


CHANGELIST = "admin:payments_archiveddocument_changelist"


def _listed(staff, **params):
    response = staff.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return {d.pk for d in response.context["cl"].result_list}


def test_admin_search_combines_date_range_amount_range_and_counterparty(staff, documents):
    d = documents
    assert _listed(staff) == {doc.pk for doc in d.values()}
    april = {"issued_from": "2027-04-01", "issued_to": "2027-04-30"}
    assert _listed(staff, **april) == {d["acme_april"].pk, d["beta_april"].pk, d["usd"].pk}
    assert _listed(staff, **april, amount_min="20000", amount_max="28000") == {d["acme_april"].pk}
    assert _listed(staff, **april, amount_min="250", amount_max="250") == {d["usd"].pk}  # $250.00 = 25,000 ¢
    assert _listed(staff, **april, counterparty="アクメ") == {d["acme_april"].pk}
    assert _listed(staff, counterparty="アクメ", amount_min="27500") == {
        d["acme_april"].pk,
        d["acme_march"].pk,
    }
    assert _listed(staff, counterparty="acme") == {d["usd"].pk}  # case-insensitive
    assert _listed(staff, counterparty="ＡＣＭＥ") == {d["usd"].pk}  # full-width typed
    assert _listed(staff, **april, counterparty="アクメ", kind="receipt") == set()  # with the other filters


def test_admin_search_with_unreadable_input_shows_the_error_and_no_documents(staff, documents):
    response = staff.get(reverse(CHANGELIST), {"issued_from": "2027-02-30", "amount_min": "abc"})
    assert response.status_code == 200 and list(response.context["cl"].result_list) == []
    assert "Enter a valid date" in response.content.decode()
    reversed_range = staff.get(reverse(CHANGELIST), {"issued_from": "2027-05-01", "issued_to": "2027-04-01"})
    assert "ends before it starts" in reversed_range.content.decode()


def test_admin_is_read_only_with_a_download(staff, documents):
    document = documents["acme_april"]
    assert staff.get(reverse("admin:payments_archiveddocument_add")).status_code == 403
    assert staff.get(reverse("admin:payments_archiveddocument_delete", args=[document.pk])).status_code == 403
    page = staff.get(reverse("admin:payments_archiveddocument_change", args=[document.pk]))
    assert page.status_code == 200 and 'name="number"' not in page.content.decode()  # nothing to edit
    post = staff.post(reverse("admin:payments_archiveddocument_change", args=[document.pk]), {"number": "x"})
    assert post.status_code == 403
    download = staff.get(reverse("admin:payments_archiveddocument_pdf", args=[document.pk]))
    assert download.content == bytes(document.pdf) and download["Content-Type"] == "application/pdf"
    changelist = staff.get(reverse(CHANGELIST)).content.decode()
    assert "delete_selected" not in changelist and "download_pdfs" in changelist


def test_admin_action_downloads_the_selected_pdfs_with_their_sums(staff, documents):
    picked = [documents["acme_april"], documents["usd"]]
    response = staff.post(
        reverse(CHANGELIST), {"action": "download_pdfs", "_selected_action": [d.pk for d in picked]}
    )
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    sums = bundle.read("SHA256SUMS").decode().splitlines()
    assert len(sums) == 2
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256(bundle.read(name)).hexdigest() == digest
    assert {line.split("  ")[0] for line in sums} == {d.sha256 for d in picked}


def _export(staff, **params):
    response = staff.get(reverse("admin:payments_archiveddocument_export"), params)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())  # BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_export_is_the_filtered_search(staff, documents):
    rows = _export(staff, issued_from="2027-04-01", issued_to="2027-04-30", counterparty="アクメ")
    d = documents["acme_april"]
    assert rows == [
        [
            "Document type",
            "Document number",
            "Issue date",
            "Counterparty",
            "Amount (tax included)",
            "Currency",
            "SHA-256",
        ],
        ["Invoice", d.number, "2027-04-01", "株式会社アクメ", "27500", "JPY", d.sha256],
    ]
    usd = _export(staff, currency__exact="USD")
    assert usd[1][4:6] == ["250.00", "USD"] and len(usd) == 2


def test_csv_export_headers_in_japanese_and_formulas_neutralised(staff, tenant):
    _row(tenant, "f", issued=date(2027, 4, 2), name='=HYPERLINK("x")', amount=-1_100, kind=Kind.CREDIT_NOTE)
    response = staff.get(reverse("admin:payments_archiveddocument_export"), HTTP_ACCEPT_LANGUAGE="ja")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["書類の種類", "書類番号", "発行日", "取引先", "金額（税込）", "通貨", "SHA-256"]
    with translation.override("ja"):
        credit_note = str(Kind.CREDIT_NOTE.label)
    assert credit_note != "Credit note"
    assert rows[1][0] == credit_note and rows[1][3] == '\'=HYPERLINK("x")' and rows[1][4] == "-1100"
