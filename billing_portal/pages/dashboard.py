"""The billing dashboard and the customer view."""

from django.shortcuts import render

from accounts.models import BILLING_VIEW_ROLES
from accounts.permissions import tenant_view
from billing_portal.common import clock
from licenses.selectors import license_dashboard, license_get
from licenses.support import support_get
from metering.selectors import mau_count
from payments.charging.collection import open_invoices
from payments.charging.selectors import (
    payment_account_dashboard,
    payment_method_missing_reason,
)
from payments.invoicing.preview import upcoming_invoice_preview


@tenant_view(BILLING_VIEW_ROLES)
def customer_view(request):
    tenant = request.tenant
    return render(
        request,
        "accounts/customer_view.html",
        {"tenant": tenant, "license": license_get(tenant=tenant)},
    )


@tenant_view(BILLING_VIEW_ROLES)
def billing_dashboard(request):
    """Payment administrator, payment account, license and support panels, the upcoming invoice and the invoices
    still open."""
    tenant = request.tenant
    context = {"tenant": tenant}
    context.update(payment_account_dashboard(tenant=tenant))
    context.update(license_dashboard(tenant=tenant))
    year, month = clock.month_of(clock.now(), tenant.time_zone)
    context["mau_this_month"] = mau_count(tenant=tenant, year=year, month=month)
    context["license_payment_problem"] = (
        payment_method_missing_reason(tenant=tenant) if context["license"].plan.is_free else ""
    )
    context["support_subscription"] = support_get(tenant=tenant)
    context["upcoming"] = upcoming_invoice_preview(tenant=tenant)
    context["open_invoices"] = open_invoices(tenant=tenant)
    return render(request, "accounts/billing_dashboard.html", context)
