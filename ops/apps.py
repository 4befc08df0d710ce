from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    """The operator's cockpit: outgoing webhooks, the revenue dashboard, CSV exports and test clocks."""

    name = "ops"
    verbose_name = _("Operator's cockpit")

    def ready(self):
        from celery.signals import before_task_publish, task_postrun, task_prerun
        from django.db.models.signals import post_delete, post_save

        from billing_portal.common import events, providers

        from . import signals
        from .models import EventType, WebhookEndpoint
        from .outbox import forget_endpoints, webhook_emit
        from .test_clocks import test_clock_time

        # Every app's domain events that operators can subscribe to go into the outbox (ops.outbox).
        events.subscribe(webhook_emit, types=set(EventType.values))
        providers.provide("test_clock_time", test_clock_time)

        post_save.connect(forget_endpoints, sender=WebhookEndpoint, weak=False)
        post_delete.connect(forget_endpoints, sender=WebhookEndpoint, weak=False)

        before_task_publish.connect(signals.add_clock_header, weak=False)
        task_prerun.connect(signals.enter_clock_scope, weak=False)
        task_postrun.connect(signals.leave_clock_scope, weak=False)
