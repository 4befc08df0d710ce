"""Operator API of this app, mounted under /api/v1/tenants/<tenant>/. Wrap each view with common.api.api_view."""

urlpatterns = []
