"""Tenant-scoped pages of this app, mounted under /t/<tenant_slug>/. Wrap each view with accounts.permissions.tenant_view."""

urlpatterns = []
