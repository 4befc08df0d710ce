"""Due dates of bank-transfer invoices (お支払期限): the end of the billing month plus BANK_TRANSFER_DUE_MONTHS
(0: 月末払い, 1: 翌月末払い) — a month later when that leaves fewer than MIN_DAYS days (a plan change billed on the
28th) —, on the previous bank business day when that is a Saturday, a Sunday or in the banks'
year-end holidays (31 December – 3 January). National holidays are not in the rule: no month end but 30 April
(after a Sunday 29 April) falls on one."""

import calendar
from datetime import date, timedelta

from django.conf import settings

MIN_DAYS = 10


def bank_holiday(day: date) -> bool:
    return day.weekday() >= 5 or (day.month, day.day) in {(12, 31), (1, 1), (1, 2), (1, 3)}


def previous_business_day(day: date) -> date:
    while bank_holiday(day):
        day -= timedelta(days=1)
    return day


def transfer_due_date(billing_date: date, *, months: int | None = None) -> date:
    months = settings.BANK_TRANSFER_DUE_MONTHS if months is None else months

    def month_end(offset):
        year, month = divmod(billing_date.year * 12 + billing_date.month - 1 + offset, 12)
        return date(year, month + 1, calendar.monthrange(year, month + 1)[1])

    end = month_end(months)
    if (end - billing_date).days < MIN_DAYS:
        end = month_end(months + 1)
    return previous_business_day(end)
