from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _partitions_after_migrate(sender, using="default", **kwargs):
    """Every `migrate`: this month's raw-event partition and the next two exist (metering/partitions.py)."""
    from django.db import connections

    from .partitions import partitions_ensure

    if connections[using].vendor == "postgresql":
        partitions_ensure()


class MeteringConfig(AppConfig):
    name = "metering"
    verbose_name = _("Metering")

    def ready(self):
        post_migrate.connect(_partitions_after_migrate, sender=self, dispatch_uid="metering_partitions")
