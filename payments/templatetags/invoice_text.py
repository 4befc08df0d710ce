"""Texts the portal generated and stored in English (invoice line descriptions, credit names), shown in the page's
language: `{{ line.description|invoice_text }}`. Stored documents keep their words (an issued invoice is never
edited); only the reading changes. Anything that is not one of these generated forms (a plan's or a unit's name,
a description typed by ops) is shown as it is."""

import re
from datetime import date

from django import template
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext, pgettext

register = template.Library()

_DAY = r"(\d{4})-(\d{2})-(\d{2})"


def _day(year, month, day) -> str:
    return date_format(date(int(year), int(month), int(day)), "DATE_FORMAT")


def _month(text) -> str:
    return date_format(date(int(text[:4]), int(text[5:7]), 1), "YEAR_MONTH_FORMAT")


def _summary(text: str) -> str:
    """A coupon's summary as `Coupon.summary` writes it in English, in the current language."""
    match = re.fullmatch(
        r"(?:(?P<percent>[\d.]+)% off|(?P<amount>\S+) off) (?P<what>license fees|usage|everything) "
        r"(?P<when>on the next invoice|on every invoice|for (?P<months>\d+) months?)",
        text,
    )
    if not match:
        return text
    off = (
        gettext("%(percent)s%% off") % {"percent": match["percent"]}
        if match["percent"]
        else gettext("%(amount)s off") % {"amount": match["amount"]}
    )
    what = {
        "license fees": gettext("license fees"),
        "usage": gettext("usage"),
        "everything": gettext("everything"),
    }
    if match["months"]:
        months = int(match["months"])
        when = ngettext("for %(months)s month", "for %(months)s months", months) % {"months": months}
    else:
        when = {
            "on the next invoice": gettext("on the next invoice"),
            "on every invoice": gettext("on every invoice"),
        }[match["when"]]
    return gettext("%(off)s %(what)s %(when)s") % {"off": off, "what": what[match["what"]], "when": when}


def _period(match) -> str:
    """The days of a "(YYYY-MM-DD – YYYY-MM-DD)" group (both included), as the language writes a period."""
    groups = match.groups()
    return pgettext("period", "%(start)s – %(end)s") % {
        "start": _day(*groups[1:4]),
        "end": _day(*groups[4:7]),
    }


_FORMS = [
    (
        re.compile(r"MAU overage \(above ([\d,]+) MAU\)"),
        lambda m: gettext("MAU overage (above %(max)s MAU)") % {"max": m[1]},
    ),
    (
        re.compile(
            r"MAU overage adjustment for (\d{4}-\d{2}) \(late authentication events, above ([\d,]+) MAU\)"
        ),
        lambda m: (
            gettext("MAU overage adjustment for %(month)s (late authentication events, above %(max)s MAU)")
            % {"month": _month(m[1]), "max": m[2]}
        ),
    ),
    (
        re.compile(rf"Remaining time on (.+) \({_DAY} – {_DAY}\)"),
        lambda m: gettext("Remaining time on %(plan)s (%(period)s)") % {"plan": m[1], "period": _period(m)},
    ),
    (
        re.compile(rf"Unused time on (.+) \({_DAY} – {_DAY}\)"),
        lambda m: gettext("Unused time on %(plan)s (%(period)s)") % {"plan": m[1], "period": _period(m)},
    ),
    (re.compile(r"Remaining time on (.+)"), lambda m: gettext("Remaining time on %(plan)s") % {"plan": m[1]}),
    (re.compile(r"Unused time on (.+)"), lambda m: gettext("Unused time on %(plan)s") % {"plan": m[1]}),
    (
        re.compile(r"(.+) \(up to ∞\)"),
        lambda m: gettext("%(unit)s (up to %(limit)s)") % {"unit": m[1], "limit": "∞"},
    ),
    (
        re.compile(r"(.+) \(up to ([\d,]+)\)"),
        lambda m: gettext("%(unit)s (up to %(limit)s)") % {"unit": m[1], "limit": m[2]},
    ),
    (re.compile(r"(.+) \(no tiers\)"), lambda m: gettext("%(unit)s (no tiers)") % {"unit": m[1]}),
    (
        re.compile(r"Discount: (.+) \(([^()]+)\)"),
        lambda m: gettext("Discount: %(coupon)s (%(summary)s)") % {"coupon": m[1], "summary": _summary(m[2])},
    ),
    (
        re.compile(r"Proration: (.+) → (.+)"),
        lambda m: gettext("Proration: %(from)s → %(to)s") % {"from": m[1], "to": m[2]},
    ),
    (re.compile(r"Credit note (\S+)"), lambda m: gettext("Credit note %(number)s") % {"number": m[1]}),
    (
        re.compile(r"Refund of invoice (\S+): (.*)", re.S),
        lambda m: gettext("Refund of invoice %(number)s: %(reason)s") % {"number": m[1], "reason": m[2]},
    ),
    (
        re.compile(r"Correction of invoice (\S+): (.*)", re.S),
        lambda m: gettext("Correction of invoice %(number)s: %(reason)s") % {"number": m[1], "reason": m[2]},
    ),
]


@register.filter
def invoice_text(value):
    text = str(value or "")
    for pattern, render in _FORMS:
        match = pattern.fullmatch(text)
        if match:
            return render(match)
    return value
