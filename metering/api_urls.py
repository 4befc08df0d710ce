"""Operator API of this app, mounted under /api/v1/tenants/<tenant>/. Wrap each view with common.api.api_view."""

from django.urls import path

from . import api_views

urlpatterns = [
    path("auth-events", api_views.auth_events, name="api_auth_events"),
    path("mau", api_views.mau, name="api_mau"),
    path("usage", api_views.usage, name="api_usage"),
    path("daily-actives", api_views.daily_actives, name="api_daily_actives"),
    path("units/date/<str:day>", api_views.units_date, name="api_units_date"),
    path("units/month/<str:month>", api_views.units_month, name="api_units_month"),
    path("units/<slug:unit>/timestamp/<str:timestamp>", api_views.unit_at_timestamp, name="api_unit_timestamp"),
    path("units/<slug:unit>/now", api_views.unit_now, name="api_unit_now"),
    path("units/<slug:unit>/date/<str:day>", api_views.unit_date, name="api_unit_date"),
    path("units/<slug:unit>/today", api_views.unit_today, name="api_unit_today"),
    path("units/<slug:unit>/month/<str:month>", api_views.unit_month, name="api_unit_month"),
    path("units/<slug:unit>/thismonth", api_views.unit_this_month, name="api_unit_this_month"),
]
