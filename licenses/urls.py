"""Tenant-scoped pages of this app, mounted under /t/<tenant_slug>/. Wrap each view with accounts.permissions.tenant_view."""

from django.urls import path

from . import views

urlpatterns = [
    path("license/plans/", views.license_plans, name="license_plans"),
    path("license/change/", views.license_change, name="license_change"),
    path("license/cancel/", views.license_cancel, name="license_cancel"),
    path("license/resume/", views.license_resume, name="license_resume"),
    path("license/reservation/cancel/", views.license_reservation_cancel, name="license_reservation_cancel"),
    path("relying-parties/", views.relying_parties, name="relying_parties"),
    path("users/", views.end_users, name="end_users"),
]
