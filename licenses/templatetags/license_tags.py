from django import template
from django.utils.translation import gettext, ngettext

register = template.Library()


@register.filter
def limit(value) -> str:
    """A license limit for people: 10000 → '10,000', None → 'Unlimited'."""
    return gettext("Unlimited") if value is None else f"{int(value):,}"


@register.filter
def days_hours(seconds) -> str:
    """A stretch of time for people: 864000 → '10 days 0 hours', 93600 → '1 day 2 hours' (minutes dropped)."""
    seconds = max(0, int(seconds or 0))
    days, rest = divmod(seconds, 86_400)
    hours = rest // 3_600
    return gettext("%(days)s %(hours)s") % {
        "days": ngettext("%(count)s day", "%(count)s days", days) % {"count": days},
        "hours": ngettext("%(count)s hour", "%(count)s hours", hours) % {"count": hours},
    }
