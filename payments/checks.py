"""System checks of payments' settings (`manage.py check`): the invoice registration number and the tax rounding."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from billing_portal.common.money import TAX_ROUNDING_MODES
from payments.invoicing.registration import registration_number_problem


@register()
def invoice_settings_check(app_configs=None, **kwargs):
    problems = []
    number = (getattr(settings, "INVOICE_REGISTRATION_NUMBER", "") or "").strip()
    if not number:
        problems.append(
            Warning(
                "INVOICE_REGISTRATION_NUMBER is not set: invoices are printed without a registration number and "
                "are not qualified invoices (適格請求書).",
                hint="Set INVOICE_REGISTRATION_NUMBER to the seller's number, T followed by 13 digits.",
                id="payments.W001",
            )
        )
    else:
        problem = registration_number_problem(number)
        if problem:
            problems.append(
                Error(
                    f"INVOICE_REGISTRATION_NUMBER {number!r} is not a valid registration number: {problem}.",
                    hint="Copy it from the National Tax Agency's registration notice (適格請求書発行事業者の登録通知書).",
                    id="payments.E001",
                )
            )
    rounding = getattr(settings, "INVOICE_TAX_ROUNDING", "half_up")
    if rounding not in TAX_ROUNDING_MODES:
        problems.append(
            Error(
                f"INVOICE_TAX_ROUNDING {rounding!r} is not one of {', '.join(TAX_ROUNDING_MODES)}.",
                id="payments.E002",
            )
        )
    return problems
