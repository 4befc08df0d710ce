from django.contrib import admin
from django.urls import path

from . import views

# Mounted under /admin/ before Django admin's own URLs; every page needs a staff login (and MFA when required).
urlpatterns = [
    path("revenue/", admin.site.admin_view(views.revenue_dashboard), name="ops_revenue"),
    path("exports/", admin.site.admin_view(views.export_index), name="ops_exports"),
    path("exports/<slug:kind>.csv", admin.site.admin_view(views.export_csv), name="ops_export_csv"),
]
