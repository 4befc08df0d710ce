"""Bank transfer: references, payer names, statement upload → proposals → confirm, partial and over payments,
double uploads and concurrent confirms, the tenant's pages and the admin pages."""

import threading
from datetime import date

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse

from accounts.models import Role
from payments.charging.cards import payment_method_choose
from payments.invoicing import transfers
from payments.invoicing.documents import invoice_issue
from payments.models import (
    BankStatement,
    BankStatementLine,
    BankTransferProfile,
    Credit,
    Invoice,
    PaymentMethodType,
    TransferPayment,
)
from tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


def transfer_tenant(name="ACME K.K.", payer_name=""):
    tenant = TenantFactory(name=name)
    payment_method_choose(tenant=tenant, method=PaymentMethodType.BANK_TRANSFER, billing_address="Tokyo")
    if payer_name:
        transfers.transfer_payer_name_set(tenant=tenant, payer_name=payer_name)
    return tenant


def transfer_invoice(tenant, amount=28_000, key="m", billing_date=date(2026, 12, 1)):
    return invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=f"{key}-{tenant.pk}",
        billing_date=billing_date,
        lines=[{"description": "Business license", "amount": amount}],
        payment_method=Invoice.PaymentMethod.BANK_TRANSFER,
    )


def upload(text: str, name="statement.csv", encoding="utf-8"):
    return transfers.statement_upload(data=text.encode(encoding), filename=name)


def staff(client):
    user = UserFactory(email="ops@operator.example", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


# --- references and payer names ----------------------------------------------------------------------------


def test_reference_is_seven_digits_with_a_check_digit_and_stable():
    tenant = transfer_tenant()
    reference = tenant.bank_transfer_profile.reference
    assert len(reference) == 7 and transfers.reference_valid(reference)
    payment_method_choose(tenant=tenant, method=PaymentMethodType.CARD)
    payment_method_choose(tenant=tenant, method=PaymentMethodType.BANK_TRANSFER, billing_address="Tokyo")
    assert BankTransferProfile.objects.get(tenant=tenant).reference == reference  # kept for good


def test_check_digit_catches_a_wrong_digit_and_a_swap():
    reference = "1234566"
    assert transfers.damm_digit("123456") == "6" and transfers.reference_valid(reference)
    assert not transfers.reference_valid("1234576")  # one digit wrong
    assert not transfers.reference_valid("1235466")  # two neighbours swapped


def test_references_are_unique_by_the_database(tenant):
    from django.db import IntegrityError

    other = transfer_tenant()
    with pytest.raises(IntegrityError):
        BankTransferProfile.objects.create(tenant=tenant, reference=other.bank_transfer_profile.reference)


def test_reference_drawn_again_when_taken(tenant, monkeypatch):
    taken = transfer_tenant().bank_transfer_profile.reference
    draws = iter([taken, "7654329"])
    monkeypatch.setattr(transfers, "_new_reference", lambda: next(draws))
    assert transfers.transfer_profile_assign(tenant=tenant).reference == "7654329"


def test_payer_name_is_saved_in_the_banks_kana(client, tenant, billing_admin):
    payment_method_choose(tenant=tenant, method=PaymentMethodType.BANK_TRANSFER, billing_address="Tokyo")
    client.force_login(billing_admin)
    response = client.post(
        reverse("transfer_payer_name", args=[tenant.slug]), {"payer_name": "カ）あくめ"}, follow=True
    )
    assert "ｶ)ｱｸﾒ" in response.content.decode()
    assert BankTransferProfile.objects.get(tenant=tenant).payer_name == "ｶ)ｱｸﾒ"


def test_payer_name_in_kanji_is_refused_with_a_field_error(client, tenant, billing_admin):
    payment_method_choose(tenant=tenant, method=PaymentMethodType.BANK_TRANSFER, billing_address="Tokyo")
    client.force_login(billing_admin)
    response = client.post(
        reverse("transfer_payer_name", args=[tenant.slug]), {"payer_name": "株式会社アクメ"}
    )
    assert response.status_code == 400
    assert "these characters cannot be used: 株式会社" in response.content.decode()
    assert BankTransferProfile.objects.get(tenant=tenant).payer_name == ""


def test_managers_read_the_transfer_details_but_cannot_set_the_payer_name(client, tenant, manager):
    payment_method_choose(tenant=tenant, method=PaymentMethodType.BANK_TRANSFER, billing_address="Tokyo")
    client.force_login(manager)
    page = client.get(reverse("billing_information", args=[tenant.slug])).content.decode()
    assert tenant.bank_transfer_profile.reference in page and "サンプル銀行" in page and "ｶ)ｴｸﾞｻﾞﾝﾌﾟﾙ" in page
    assert "Save payer name" not in page
    assert (
        client.post(reverse("transfer_payer_name", args=[tenant.slug]), {"payer_name": "ｱ"}).status_code
        == 403
    )


def test_transfer_details_for_the_invoice_pdf(tenant, settings):
    payment_method_choose(tenant=tenant, method=PaymentMethodType.BANK_TRANSFER, billing_address="Tokyo")
    details = transfers.transfer_details(tenant=tenant)
    assert details["reference"] == tenant.bank_transfer_profile.reference
    account = details["bank_account"]
    assert (account.bank_name, account.branch_code, account.account_number, account.account_type_ja) == (
        "サンプル銀行",
        "001",
        "1234567",
        "普通",
    )
    settings.BANK_TRANSFER_ACCOUNT = {**settings.BANK_TRANSFER_ACCOUNT, "account_number": ""}
    assert transfers.transfer_details(tenant=tenant)["bank_account"] is None  # not configured: not printed


def test_bank_transfer_invoices_get_a_due_date_card_invoices_none(tenant):
    invoice = transfer_invoice(transfer_tenant())
    assert invoice.due_date == date(2026, 12, 30)  # 31 Dec is a bank holiday
    card = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="card",
        billing_date=date(2026, 12, 1),
        lines=[{"description": "x", "amount": 100}],
    )
    assert card.due_date is None


# --- upload, proposals, confirm ---------------------------------------------------------------------------


def test_upload_changes_nothing_and_proposals_match_by_reference_name_and_amount():
    acme = transfer_tenant("ACME K.K.")
    beta = transfer_tenant("Beta K.K.", payer_name="ﾍﾞｰﾀ")
    gamma = transfer_tenant("Gamma K.K.")
    a, b, g = transfer_invoice(acme), transfer_invoice(beta, 25_000), transfer_invoice(gamma, 50_000)
    ref = acme.bank_transfer_profile.reference
    result = upload(
        f"取引日,入金額,振込依頼人名\n2026-12-25,30800,{ref} ｶ)ｱｸﾒ\n2026-12-26,27500,ﾍﾞｰﾀ(ｶ\n"
        "2026-12-27,55000,ｶﾞﾝﾏ\n2026-12-28,9999,ﾀﾞﾚｶ\n"
    )
    assert result.created and result.new_lines == 4
    assert Invoice.objects.filter(status=Invoice.Status.SUCCESSFUL).count() == 0  # nothing before confirm
    proposals = transfers.line_proposals(lines=result.statement.lines.all())
    got = [(p.invoice, p.rule, p.checked) for p in proposals]
    assert got == [(a, "reference", True), (b, "name", True), (g, "amount", False), (None, "", False)]


def test_confirm_marks_paid_on_the_statement_date_with_receipt_and_email(django_capture_on_commit_callbacks):
    acme = transfer_tenant()
    invoice = transfer_invoice(acme)
    statement = upload(f"2026-12-25,30800,{acme.bank_transfer_profile.reference}\n").statement
    line = statement.lines.get()
    mail.outbox.clear()
    assert invoice.paid_at is None
    with django_capture_on_commit_callbacks(execute=True):
        result = transfers.statement_confirm(choices=[(line, invoice)])
    assert len(result.applied) == 1 and result.refused == []
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL
    assert invoice.paid_at.isoformat() == "2026-12-24T15:00:00+00:00"  # 25 Dec 00:00 in Tokyo
    assert [m.subject for m in mail.outbox] == [f"Payment received: ¥30,800 for invoice {invoice.number}"]
    assert "2026-12-25" in mail.outbox[0].body and invoice.receipt_id in mail.outbox[0].body


def test_a_line_applies_once_even_when_confirmed_twice():
    acme = transfer_tenant()
    first, second = transfer_invoice(acme, key="a"), transfer_invoice(acme, key="b")
    line = upload("2026-12-25,30800,ｱｸﾒ\n").statement.lines.get()
    transfers.statement_confirm(choices=[(line, first)])
    again = transfers.statement_confirm(choices=[(line, second)])
    assert again.applied == [] and "already applied" in again.refused[0][1]
    second.refresh_from_db()
    assert second.status == Invoice.Status.PENDING and TransferPayment.objects.count() == 1


def test_the_same_file_twice_imports_nothing_and_an_overlapping_one_only_new_rows():
    acme = transfer_tenant()
    transfer_invoice(acme)
    text = "2026-12-25,30800,ｱｸﾒ\n2026-12-25,30800,ｱｸﾒ\n"
    first = upload(text)
    again = upload(text, name="again.csv")
    assert not again.created and again.statement == first.statement
    overlapping = upload(text + "2026-12-26,1000,ｱｸﾒ\n", name="month.csv")
    assert overlapping.created and overlapping.new_lines == 1 and overlapping.duplicate_lines == 2
    assert BankStatementLine.objects.count() == 3 and BankStatement.objects.count() == 2


def test_underpayment_leaves_the_invoice_open_with_the_amount_received_then_the_rest_pays_it(client):
    acme = transfer_tenant()
    invoice = transfer_invoice(acme)
    lines = list(upload("2026-12-25,30000,ｱｸﾒ\n2027-01-05,800,ｱｸﾒ\n").statement.lines.all())
    transfers.transfer_apply(line=lines[0], invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PENDING
    [open_invoice] = transfers.open_transfer_invoices(tenant=acme)
    assert (open_invoice.received, open_invoice.remaining) == (30_000, 800)
    client.force_login(acme.representative)
    page = client.get(reverse("billing_information", args=[acme.slug])).content.decode()
    assert "¥30,000" in page and "¥800" in page  # received and left to pay
    transfers.transfer_apply(line=lines[1], invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.SUCCESSFUL and str(invoice.paid_at.date()) == "2027-01-04"


def test_overpayment_becomes_pre_tax_credit_once():
    acme = transfer_tenant()
    invoice = transfer_invoice(acme)
    line = upload("2026-12-25,31900,ｱｸﾒ\n").statement.lines.get()
    payment = transfers.transfer_apply(line=line, invoice=invoice)
    assert payment.amount == 30_800 and payment.credit.amount_charged == 1_000  # ¥1,100 over, tax included
    assert (
        payment.credit.source == Credit.Source.BANK_TRANSFER
        and payment.credit.source_key == f"transfer-line-{line.pk}"
    )
    # The next invoice takes ¥1,100 off, tax included.
    nxt = transfer_invoice(acme, key="next", billing_date=date(2027, 1, 1))
    assert nxt.payment_amount == 30_800 - 1_100


def test_overpayment_kept_out_of_credit_is_listed_for_ops():
    acme = transfer_tenant()
    invoice = transfer_invoice(acme)
    line = upload("2026-12-25,31900,ｱｸﾒ\n").statement.lines.get()
    transfers.transfer_apply(line=line, invoice=invoice, overpayment_to_credit=False)
    assert Credit.objects.count() == 0
    assert [p.line for p in transfers.overpayments_without_credit()] == [line]


def test_unmatched_line_credited_or_ignored_by_hand():
    acme = transfer_tenant()
    lines = list(upload("2026-12-25,5500,ﾀﾞﾚｶ\n2026-12-26,3,ﾘｿｸ\n").statement.lines.all())
    payment = transfers.transfer_apply(line=lines[0], tenant=acme)
    assert payment.invoice is None and payment.credit.amount_charged == 5_000
    transfers.line_ignore(line=lines[1], note="Interest")
    assert list(transfers.lines_needing_attention()) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_confirms_of_one_line_apply_it_exactly_once():
    acme = transfer_tenant()
    invoices = [transfer_invoice(acme, key=f"k{i}") for i in range(4)]
    line = upload("2026-12-25,30800,ｱｸﾒ\n").statement.lines.get()
    barrier = threading.Barrier(len(invoices))
    outcomes = []

    def confirm(invoice):
        try:
            barrier.wait()
            outcomes.append(len(transfers.statement_confirm(choices=[(line, invoice)]).applied))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(invoice,)) for invoice in invoices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [0, 0, 0, 1]
    assert TransferPayment.objects.count() == 1
    assert Invoice.objects.filter(status=Invoice.Status.SUCCESSFUL).count() == 1


# --- admin ---------------------------------------------------------------------------------------------------


def test_admin_upload_review_and_confirm_only_the_ticked_rows(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    acme, beta = transfer_tenant("ACME K.K."), transfer_tenant("Beta K.K.", payer_name="ﾍﾞｰﾀ")
    a, b = transfer_invoice(acme), transfer_invoice(beta)
    staff(client)
    page = client.get(reverse("admin:payments_bankstatement_upload")).content.decode()
    assert "振込依頼人名" in page and "Shift_JIS" in page  # the layout is on the page
    csv = f"取引日,入金額,振込依頼人名\n2026-12-25,30800,{acme.bank_transfer_profile.reference} ｱｸﾒ\n2026-12-26,30800,ﾍﾞｰﾀ\nbad,1,x\n"
    response = client.post(
        reverse("admin:payments_bankstatement_upload"),
        {"file": SimpleUploadedFile("dec.csv", csv.encode("cp932"))},
        follow=True,
    )
    body = response.content.decode()
    assert "2 deposits imported." in body and "Row 4:" in body and "not a date" in body
    statement = BankStatement.objects.get()
    lines = {line.row: line for line in statement.lines.all()}
    review = reverse("admin:payments_bankstatement_review", args=[statement.pk])
    response = client.post(
        review,
        {
            "apply": [lines[2].pk],
            f"invoice_{lines[2].pk}": a.pk,
            f"invoice_{lines[3].pk}": b.pk,
            "overpayment_to_credit": "1",
        },
        follow=True,
    )
    assert "1 deposit applied. 1 invoice paid." in response.content.decode()
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == Invoice.Status.SUCCESSFUL and b.status == Invoice.Status.PENDING


def test_admin_resolve_an_unmatched_line_to_an_invoice(client):
    acme = transfer_tenant()
    invoice = transfer_invoice(acme)
    line = upload("2026-12-25,30800,ﾄﾞｺｶﾉｶｲｼﾔ\n").statement.lines.get()
    staff(client)
    url = reverse("admin:payments_bankstatementline_resolve", args=[line.pk])
    assert invoice.number in client.get(url).content.decode()
    response = client.post(
        url, {"action": "invoice", "invoice": invoice.pk, "overpayment_to_credit": "on"}, follow=True
    )
    assert f"Invoice {invoice.number} is paid." in response.content.decode()
    response = client.post(url, {"action": "ignore", "note": "twice"})
    assert "already applied" in response.content.decode()


def test_ops_overdue_list(client, time_machine):
    acme = transfer_tenant()
    invoice = transfer_invoice(acme)
    paid = transfer_invoice(acme, key="paid")
    transfers.transfer_apply(line=upload("2026-12-25,30800,ｱｸﾒ\n").statement.lines.get(), invoice=paid)
    url = reverse("admin:payments_invoice_changelist") + "?transfer=overdue"
    time_machine.move_to("2026-12-30T14:59:00Z", tick=False)  # 23:59 on the due date in Tokyo
    staff(client)
    body = client.get(url).content.decode()
    assert "Overdue (past the due date, unpaid)" in body and invoice.number not in body
    time_machine.move_to("2026-12-30T15:00:00Z", tick=False)  # 31 Dec in Tokyo
    body = client.get(url).content.decode()
    assert invoice.number in body and paid.number not in body


# --- tenant pages ----------------------------------------------------------------------------------------------


def test_dashboard_banner_for_an_overdue_transfer_invoice_in_the_tenants_calendar(client, time_machine):
    acme = transfer_tenant()
    invoice = transfer_invoice(acme)
    url = reverse("billing_dashboard", args=[acme.slug])
    time_machine.move_to("2026-12-30T14:00:00Z", tick=False)
    client.force_login(acme.representative)
    assert "data-transfer-overdue" not in client.get(url).content.decode()
    time_machine.move_to("2026-12-31T01:00:00Z", tick=False)
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "data-transfer-overdue" in page and invoice.number in page and "¥30,800" in page
    assert "2026-12-30" in page and acme.bank_transfer_profile.reference in page and "1234567" in page


def test_banner_and_transfer_pages_show_only_the_tenants_own(client, time_machine):
    acme, other = transfer_tenant("ACME K.K."), transfer_tenant("Other K.K.")
    transfer_invoice(acme)
    transfer_invoice(other, key="first")
    theirs = transfer_invoice(other, 77_000, key="theirs")  # their 2026-00002, ¥84,700
    user = acme.representative
    MembershipFactory(tenant=other, user=UserFactory(), role=Role.OWNER)
    time_machine.move_to("2027-01-15T00:00:00Z", tick=False)
    client.force_login(user)
    for name in ("billing_dashboard", "billing_information"):
        page = client.get(reverse(name, args=[acme.slug])).content.decode()
        assert theirs.number not in page and "¥84,700" not in page
        assert other.bank_transfer_profile.reference not in page
    assert client.get(reverse("billing_information", args=[other.slug])).status_code == 404
    assert (
        client.post(reverse("transfer_payer_name", args=[other.slug]), {"payer_name": "ｱ"}).status_code == 404
    )


def test_admin_upload_and_review_pages_read_in_japanese(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    acme = transfer_tenant("株式会社アクメ")
    invoice = transfer_invoice(acme)
    staff(client)
    ja = {"HTTP_ACCEPT_LANGUAGE": "ja,en;q=0.5"}
    page = client.get(reverse("admin:payments_bankstatement_upload"), **ja).content.decode()
    for text in ("入金明細をアップロード", "入金明細（CSV）", "UTF-8またはShift_JIS", "アップロードして確認"):
        assert text in page, text
    assert "Bank statement (CSV)" not in page and "Upload and review" not in page
    csv = f"2026-12-25,30800,{acme.bank_transfer_profile.reference} ｱｸﾒ\n2026-12-26,1000,ﾄﾞｺｶﾉｶｲｼﾔ\n"
    response = client.post(
        reverse("admin:payments_bankstatement_upload"),
        {"file": SimpleUploadedFile("dec.csv", csv.encode("cp932"))},
        follow=True,
        **ja,
    )
    page = response.content.decode()
    for text in (
        "2件の入金を取り込みました。",
        "下で確定するまで消込は行われません。",
        "入金明細 dec.csv の照合確認",
        "候補の請求書",
        "振込依頼人名",
        "振込参照番号",  # how row 1 was matched
        "チェックした照合を確定",
        "消込処理…",  # row 2 has no match
    ):
        assert text in page, text
    assert invoice.number in page
    for english in ("deposit(s)", "Proposed invoice", "Confirm ticked matches", ">reference<", "Resolve…"):
        assert english not in page, english
    response = client.post(
        response.redirect_chain[-1][0],
        {
            "apply": [BankStatementLine.objects.get(row=1).pk],
            f"invoice_{BankStatementLine.objects.get(row=1).pk}": invoice.pk,
        },
        follow=True,
        **ja,
    )
    page = response.content.decode()
    assert "1件の入金を消し込みました。1件の請求書が入金済みになりました。" in page
    assert "消込済み" in page
