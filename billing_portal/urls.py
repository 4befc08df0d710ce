from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from accounts import member_views
from accounts import views as account_views
from billing_portal.api import api
from billing_portal.common import admin_login, error_views
from billing_portal.common import views as common_views
from payments import webhooks as payment_webhooks

admin_login.install(admin.site)

# Everything a tenant owns lives under /t/<tenant_slug>/; each app appends its pages there.
tenant_patterns = [
    path("", include("accounts.urls")),
    path("", include("billing_portal.pages.urls")),  # pages composed of several apps
    path("", include("metering.urls")),
    path("", include("payments.urls")),
]

urlpatterns = [
    path("", account_views.home, name="home"),
    path("tenants/", account_views.tenant_list, name="tenant_list"),
    path("language/", account_views.language_set, name="language_set"),
    # The JavaScript strings (static/js) in the page's language: gettext() for the scripts, served as a script of
    # this site (the Content-Security-Policy allows no inline script). Catalogue: locale/<lang>/djangojs.po.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript_catalog"),
    path("invitations/<str:token>/", member_views.invitation_accept_view, name="invitation_accept"),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
    path("api/v1/", api.urls),
    path("accounts/", include("allauth.urls")),
    path("admin/", include("ops.urls")),  # revenue dashboard, CSV exports (staff)
    path("admin/", admin.site.urls),
    path("healthz", common_views.healthz, name="healthz"),
    path("readyz", common_views.readyz, name="readyz"),
    path("stripe/webhook/", payment_webhooks.stripe_webhook, name="stripe_webhook"),
]

# Django's own error answers (unknown URL, request too large, crash) are JSON with a code under /api/.
handler400 = error_views.bad_request
handler404 = error_views.page_not_found
handler500 = error_views.server_error
