"""Tenant-scoped pages of this app, mounted under /t/<tenant_slug>/. Wrap each view with accounts.permissions.tenant_view."""

from django.urls import path

from . import views

urlpatterns = [
    path("mau/live/", views.mau_live, name="metering_mau_live"),
    path("mau/evidence/", views.mau_evidence, name="metering_mau_evidence"),
    path("mau/alert/", views.mau_alert_edit, name="metering_mau_alert_edit"),
    path("api-keys/", views.api_keys, name="metering_api_keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke_view, name="metering_api_key_revoke"),
]
