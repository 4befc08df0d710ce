from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LicensesConfig(AppConfig):
    name = "licenses"
    verbose_name = _("Licenses and pricing")

    def ready(self):
        from billing_portal.common import events, providers

        from . import catalogue  # noqa: F401 - the catalogue rules' model signals
        from .selectors import mau_limit
        from .services import on_tenant_created

        events.subscribe(on_tenant_created, types={"tenant.created"})
        providers.provide("mau_limit", mau_limit)  # metering's MAU alerts and panels
