"""Billing months and periods as people read them, per language.

Periods are stored half-open ([start, end): a month ends at the next month's midnight). Japanese pages show the
last day included (「2026年11月1日〜2026年11月30日」) and a billing month as 「2026年11月分」; English pages keep
the portal's ISO form. Dates are in the current time zone (the tenant's, set by the views and e-mails).
"""

from datetime import date, datetime, time, timedelta

from django import template
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import pgettext

register = template.Library()


def _local(value):
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def _inclusive_dates() -> bool:
    return (translation.get_language() or "").startswith("ja")


@register.simple_tag
def billing_month(year_or_date, month=None):
    """`{% billing_month 2026 11 %}` or `{% billing_month invoice.period_start %}` → 2026年11月分 / 2026-11."""
    if month is None:
        value = _local(year_or_date)
        first = date(value.year, value.month, 1)
    else:
        first = date(int(year_or_date), int(month), 1)
    return pgettext("billing month", "%(month)s") % {"month": date_format(first, "YEAR_MONTH_FORMAT")}


@register.simple_tag
def period_range(start, end):
    """A period [start, end). Japanese: whole days with the last day included when it runs midnight to midnight."""
    if start is None:
        return ""
    start, end = _local(start), _local(end)
    if end is None:
        return pgettext("period", "%(start)s –") % {"start": date_format(start, "DATETIME_FORMAT")}
    if _inclusive_dates() and isinstance(start, datetime) and start.time() == time(0) and end.time() == time(0):
        last_day = (end - timedelta(days=1)).date()
        return pgettext("period", "%(start)s – %(end)s") % {
            "start": date_format(start.date(), "DATE_FORMAT"), "end": date_format(last_day, "DATE_FORMAT")}
    return pgettext("period", "%(start)s – %(end)s") % {
        "start": date_format(start, "DATETIME_FORMAT"), "end": date_format(end, "DATETIME_FORMAT")}


@register.simple_tag
def invoice_period(invoice):
    """A monthly invoice's billing month and its days: 2026年11月分（2026年11月1日〜2026年11月30日）."""
    if not invoice.period_start or not invoice.period_end:
        return ""
    return pgettext("invoice period", "%(month)s (%(range)s)") % {
        "month": billing_month(invoice.period_start), "range": period_range(invoice.period_start, invoice.period_end)}
