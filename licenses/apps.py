from django.apps import AppConfig


class LicensesConfig(AppConfig):
    name = "licenses"
    verbose_name = "Licenses and pricing"

    def ready(self):
        from . import catalogue  # noqa: F401 - the catalogue rules' model signals
