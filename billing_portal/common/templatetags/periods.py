"""Billing months and periods as people read them, per language.

Periods are stored half-open ([start, end): a month ends at the next month's midnight). Pages and e-mails show
the last day included, in both languages: 「2026年11月1日〜2026年11月30日」 / "2026-11-01 – 2026-11-30"; a billing
month is 「2026年11月分」 / "2026-11". Dates are in the current time zone (the tenant's, set by the views and
e-mails).
"""

from datetime import date, datetime, time, timedelta

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import pgettext

register = template.Library()


def _local(value):
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


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
    """A period [start, end): whole days with the last day included when it runs midnight to midnight, else the
    two instants."""
    if start is None:
        return ""
    start, end = _local(start), _local(end)
    if end is None:
        return pgettext("period", "%(start)s –") % {"start": date_format(start, "DATETIME_FORMAT")}
    if isinstance(start, datetime) and start.time() == time(0) and end.time() == time(0):
        last_day = (end - timedelta(days=1)).date()
        return pgettext("period", "%(start)s – %(end)s") % {
            "start": date_format(start.date(), "DATE_FORMAT"),
            "end": date_format(last_day, "DATE_FORMAT"),
        }
    return pgettext("period", "%(start)s – %(end)s") % {
        "start": date_format(start, "DATETIME_FORMAT"),
        "end": date_format(end, "DATETIME_FORMAT"),
    }


@register.filter
def period_end(end):
    """The end of a period [start, end) as its last moment included: a period ending at midnight ends at 23:59 the
    day before (「2026年11月30日 23:59 JST」), so that nobody reads 1 December as a day of November's period."""
    if not end:
        return ""
    end = _local(end)
    if isinstance(end, datetime) and end.time() == time(0):
        end = end - timedelta(minutes=1)
    return date_format(end, "DATETIME_FORMAT")


@register.simple_tag
def invoice_period(invoice):
    """A monthly invoice's billing month and its days: 2026年11月分（2026年11月1日〜2026年11月30日）."""
    if not invoice.period_start or not invoice.period_end:
        return ""
    return pgettext("invoice period", "%(month)s (%(range)s)") % {
        "month": billing_month(invoice.period_start),
        "range": period_range(invoice.period_start, invoice.period_end),
    }


@register.filter
def month_label(value):
    """A "2026-11" key as the language writes the month: 2026年11月 / 2026-11 (other values unchanged)."""
    text = str(value or "")
    if (
        len(text) == 7
        and text[4] == "-"
        and text[:4].isdigit()
        and text[5:].isdigit()
        and 1 <= int(text[5:]) <= 12
    ):
        return date_format(date(int(text[:4]), int(text[5:]), 1), "YEAR_MONTH_FORMAT")
    return value
