from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self):
        from billing_portal.common import providers

        from . import checks, licensing  # noqa: F401 - checks registers the system checks
        from .invoicing.late_usage import late_events_report

        # The answers licenses and metering need from payments (billing_portal.common.providers).
        providers.provide("payment_method_problem", licensing.payment_method_problem)
        providers.provide("proration_credit_grant", licensing.proration_credit_grant)
        providers.provide("plan_change_bill_soon", licensing.plan_change_bill_soon)
        providers.provide("late_events_report", late_events_report)
