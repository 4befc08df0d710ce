from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The operator's cockpit: outgoing webhooks, the revenue dashboard, CSV exports and test clocks."""

    name = "ops"
    verbose_name = "Operator's cockpit"
