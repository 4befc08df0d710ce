"""Reminder e-mails about unpaid bank-transfer invoices: 3 days before the due date, on it, 7 and 14 days after,
in the tenant's calendar (Asia/Tokyo), each once, in the recipient's language; none once paid."""

from datetime import date

import pytest
from django.core import mail

from payments.invoicing import transfers
from payments.invoicing.transfer_reminders import reminder_step_due, reminders_due, transfer_reminder_send
from payments.models import TransferReminder
from payments.tasks import transfer_reminders_tick
from tests.payments.test_transfers import transfer_invoice, transfer_tenant, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def tick(django_capture_on_commit_callbacks):
    def run():
        before = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            transfer_reminders_tick()
        return mail.outbox[before:]

    return run


def test_schedule():
    due = date(2026, 12, 30)
    assert reminder_step_due(due_date=due, today=date(2026, 12, 26)) is None
    assert reminder_step_due(due_date=due, today=date(2026, 12, 27)) == "before_due"
    assert reminder_step_due(due_date=due, today=date(2026, 12, 30)) == "due"
    assert reminder_step_due(due_date=due, today=date(2027, 1, 5)) == "due"
    assert reminder_step_due(due_date=due, today=date(2027, 1, 6)) == "overdue_7"
    assert reminder_step_due(due_date=due, today=date(2027, 1, 13)) == "overdue_14"
    assert reminder_step_due(due_date=due, today=date(2027, 6, 1)) == "overdue_14"


def test_reminders_across_the_year_end_in_tokyo(time_machine, tick):
    tenant = transfer_tenant()
    invoice = transfer_invoice(tenant)  # billed 1 Dec 2026, due Wed 30 Dec (31 Dec is a bank holiday)
    assert invoice.due_date == date(2026, 12, 30)
    sent = []
    for instant, expected in [
        ("2026-12-26T14:59:00Z", []),  # 23:59 on 26 Dec in Tokyo: 4 days before
        ("2026-12-26T15:00:00Z", ["before_due"]),  # 00:00 on 27 Dec in Tokyo
        ("2026-12-27T03:00:00Z", []),  # the hourly tick again: already sent
        ("2026-12-29T15:00:00Z", ["due"]),  # 30 Dec
        ("2027-01-05T14:00:00Z", []),  # 5 Jan 23:00 in Tokyo
        ("2027-01-05T15:00:00Z", ["overdue_7"]),  # 6 Jan
        ("2027-01-12T15:00:00Z", ["overdue_14"]),  # 13 Jan
        ("2027-02-01T00:00:00Z", []),  # nothing after the last step
    ]:
        time_machine.move_to(instant, tick=False)
        messages = tick()
        steps = list(
            TransferReminder.objects.filter(invoice=invoice)
            .order_by("sent_at")
            .values_list("step", flat=True)
        )[len(sent) :]
        assert steps == expected, instant
        assert len(messages) == len(expected)
        sent += steps
    assert sent == ["before_due", "due", "overdue_7", "overdue_14"]


def test_reminder_email_in_english_and_japanese(time_machine, tick):
    tenant = transfer_tenant()
    transfer_invoice(tenant)
    time_machine.move_to("2026-12-31T00:00:00Z", tick=False)  # due yesterday... 31 Dec 09:00 in Tokyo
    [english] = tick()
    assert english.subject == "Invoice 2026-00001 is due today"  # the latest due step: the due date
    assert "¥30,800" in english.body and tenant.bank_transfer_profile.reference in english.body
    assert "サンプル銀行" in english.body and "1234567" in english.body

    other = transfer_tenant("Japanese K.K.")
    other.payment_administrator.language = "ja"
    other.payment_administrator.save()
    transfer_invoice(other)
    [japanese] = tick()
    assert japanese.subject == "請求書 2026-00001 のお支払期限は本日です"
    assert "2026年12月30日" in japanese.body and "振込" in japanese.body


def test_a_missed_step_is_not_sent_late_and_each_step_once(time_machine, tick):
    invoice = transfer_invoice(transfer_tenant())
    time_machine.move_to("2027-01-07T00:00:00Z", tick=False)  # beat was down from before the due date
    assert [m.subject for m in tick()] == ["Overdue: invoice 2026-00001 is not paid yet"]
    assert tick() == []
    assert list(TransferReminder.objects.values_list("step", flat=True)) == ["overdue_7"]
    assert transfer_reminder_send(invoice_id=invoice.pk, step="overdue_7") is None  # the constraint holds


def test_no_reminder_once_paid_and_the_overdue_text_says_what_was_received(time_machine, tick):
    tenant = transfer_tenant()
    paid, partly = transfer_invoice(tenant, key="paid"), transfer_invoice(tenant, key="partly")
    lines = list(upload("2026-12-20,30800,ｱｸﾒ\n2026-12-21,30000,ｱｸﾒ\n").statement.lines.all())
    transfers.transfer_apply(line=lines[0], invoice=paid)
    transfers.transfer_apply(line=lines[1], invoice=partly)
    time_machine.move_to("2027-01-06T00:00:00Z", tick=False)
    [message] = tick()
    assert partly.number in message.subject
    assert "¥800" in message.body and "We have received ¥30,000 of ¥30,800." in message.body
    assert reminders_due() == []


def test_test_tenants_are_left_to_their_test_clock(time_machine, tick):
    from ops.models import TestClock

    tenant = transfer_tenant()
    transfer_invoice(tenant)
    TestClock.objects.create(tenant=tenant, frozen_time="2026-12-01T00:00:00Z")
    time_machine.move_to("2027-01-06T00:00:00Z", tick=False)
    assert tick() == []
