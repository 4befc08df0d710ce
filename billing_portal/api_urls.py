from django.urls import include, path

from . import api_views

tenant_api = [
    path("", include("licenses.api_urls")),
    path("", include("metering.api_urls")),
    path("", include("payments.api_urls")),
]

urlpatterns = [
    path("tenants/<slug:tenant>/", include(tenant_api)),
    path("whoami", api_views.whoami, name="api_whoami"),
]
