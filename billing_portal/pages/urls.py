"""The composed tenant pages, mounted under /t/<tenant_slug>/. Wrap each view with accounts.permissions.tenant_view."""

from django.urls import path

from . import contract_pages, dashboard, license_pages, support_pages

urlpatterns = [
    path("dashboard/", dashboard.billing_dashboard, name="billing_dashboard"),
    path("customer/", dashboard.customer_view, name="customer_view"),
    path("contract/", contract_pages.contract, name="contract"),
    path("contract/cancel/", contract_pages.contract_cancel, name="contract_cancel"),
    path("contract/unsubscribe/", contract_pages.unsubscribe, name="unsubscribe"),
    path("license/plans/", license_pages.license_plans, name="license_plans"),
    path("license/change/", license_pages.license_change, name="license_change"),
    path("license/cancel/", license_pages.license_cancel, name="license_cancel"),
    path("license/resume/", license_pages.license_resume, name="license_resume"),
    path(
        "license/reservation/cancel/",
        license_pages.license_reservation_cancel,
        name="license_reservation_cancel",
    ),
    path("support/", support_pages.support_plans, name="support_plans"),
    path("support/change/", support_pages.support_change, name="support_change"),
    path("support/cancel/", support_pages.support_cancel, name="support_cancel"),
    path("support/resume/", support_pages.support_resume, name="support_resume"),
    path("relying-parties/", license_pages.relying_parties, name="relying_parties"),
    path("users/", license_pages.end_users, name="end_users"),
]
