from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MeteringConfig(AppConfig):
    name = "metering"
    verbose_name = _("Metering")

    def ready(self):
        from accounts.signals import tenant_closed

        tenant_closed.connect(_forget_closed_tenant, dispatch_uid="metering-forget-closed-tenant")


def _forget_closed_tenant(sender, tenant, **kwargs):
    """An unsubscribed tenant's events and readings leave the ClickHouse event store too (queued in the closing
    transaction; PostgreSQL's metering rows are deleted by the unsubscribe itself)."""
    from .event_store import current

    if current().uses_outbox:
        from .event_outbox import tenant_forget_enqueue

        tenant_forget_enqueue(tenant_id=tenant.pk)
