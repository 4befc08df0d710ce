from datetime import date

from django import template
from django.utils.formats import date_format

from accounts.models import BILLING_EDIT_ROLES, Role
from billing_portal.common import clock
from metering import selectors

register = template.Library()

MONTH_CHOICES = (3, 6, 12)


@register.simple_tag
def mau_this_month(tenant) -> int:
    """MAU usage count of the tenant's current calendar month (its time zone)."""
    year, month = clock.month_of(clock.now(), tenant.time_zone)
    return selectors.mau_count(tenant=tenant, year=year, month=month)


@register.inclusion_tag("metering/_mau_panels.html", takes_context=True)
def mau_panels(context, tenant):
    """The customer view's "MAU information" chart and "MAU exceeded alert" panels."""
    request = context.get("request")
    try:
        months = int(request.GET.get("mau_months", 6)) if request else 6
    except ValueError:
        months = 6
    if months not in MONTH_CHOICES:
        months = 6
    history = selectors.mau_history(tenant=tenant, months=months)
    # Months as the page's language writes them (2026年11月 / 2026-11), in the chart and the table.
    history = {
        **history,
        "labels": [
            date_format(date(int(label[:4]), int(label[5:7]), 1), "YEAR_MONTH_FORMAT")
            for label in history["labels"]
        ],
    }
    rows = [
        {
            "label": label,
            "total": history["total"][i],
            "by_rp": [values[i] for values in history["by_rp"].values()],
        }
        for i, label in enumerate(history["labels"])
    ]
    membership = getattr(request, "membership", None)
    role = membership.role if membership else None
    year, month = clock.month_of(clock.now(), tenant.time_zone)
    return {
        "request": request,
        "tenant": tenant,
        "months": months,
        "month_choices": MONTH_CHOICES,
        "history": history,
        "rows": rows,
        "mau_this_month": selectors.mau_count(tenant=tenant, year=year, month=month),
        "this_month": f"{year:04d}-{month:02d}",
        "max_mau": selectors.max_mau(tenant=tenant),
        "alert_setting": selectors.mau_alert_setting_get(tenant=tenant),
        "alert_this_month": selectors.mau_alert_this_month(tenant=tenant),
        "can_edit": role in BILLING_EDIT_ROLES,
        "is_owner": role == Role.OWNER,
    }
