"""Tenant-scoped pages of this app, mounted under /t/<tenant_slug>/. Wrap each view with accounts.permissions.tenant_view."""

from django.urls import path

from . import support_views, views

urlpatterns = [
    path("license/plans/", views.license_plans, name="license_plans"),
    path("license/change/", views.license_change, name="license_change"),
    path("license/cancel/", views.license_cancel, name="license_cancel"),
    path("license/resume/", views.license_resume, name="license_resume"),
    path("license/reservation/cancel/", views.license_reservation_cancel, name="license_reservation_cancel"),
    path("support/", support_views.support_plans, name="support_plans"),
    path("support/change/", support_views.support_change, name="support_change"),
    path("support/cancel/", support_views.support_cancel, name="support_cancel"),
    path("support/resume/", support_views.support_resume, name="support_resume"),
    path("relying-parties/", views.relying_parties, name="relying_parties"),
    path("users/", views.end_users, name="end_users"),
]
