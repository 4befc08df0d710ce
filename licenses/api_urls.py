"""Operator API of this app, mounted under /api/v1/tenants/<tenant>/. Wrap each view with common.api.api_view."""

from django.urls import path

from . import api_views

urlpatterns = [
    path("", api_views.tenant_detail, name="api_tenant_detail"),
    path("plan", api_views.plan_update, name="api_plan"),
    path("plan/reservation", api_views.plan_reservation_delete, name="api_plan_reservation"),
    path("rps", api_views.rp_register, name="api_rps"),
    path("users", api_views.user_register, name="api_users"),
]
