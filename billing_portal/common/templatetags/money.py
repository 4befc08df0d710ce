from django import template

from billing_portal.common.money import format_money

register = template.Library()


@register.filter(name="money")
def money(amount_minor, currency):
    """`{{ invoice.total_minor|money:invoice.currency }}`. The currency is required."""
    if amount_minor is None or amount_minor == "":
        return "—"
    if not currency:
        raise template.TemplateSyntaxError("The money filter needs a currency.")
    return format_money(int(amount_minor), currency)
