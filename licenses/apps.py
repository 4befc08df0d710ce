from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LicensesConfig(AppConfig):
    name = "licenses"
    verbose_name = _("Licenses and pricing")

    def ready(self):
        from . import catalogue  # noqa: F401 - the catalogue rules' model signals
