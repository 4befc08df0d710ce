from django import template

from billing_portal.common import clock

register = template.Library()


@register.simple_tag
def mau_this_month(tenant) -> int:
    """MAU usage count of the tenant's current calendar month (its time zone)."""
    from metering.selectors import mau_count

    year, month = clock.month_of(clock.now(), tenant.time_zone)
    return mau_count(tenant=tenant, year=year, month=month)


@register.filter
def limit(value) -> str:
    """A license limit for people: 10000 → '10,000', None → 'Unlimited'."""
    return "Unlimited" if value is None else f"{int(value):,}"
