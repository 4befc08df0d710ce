"""The overdue bank-transfer banner (billing dashboard and billing information): `{% transfer_overdue_banner %}`.
A tag rather than view context so that every page showing it composes nothing more (accounts' dashboard view
does not import it)."""

from django import template

from payments.invoicing.transfers import overdue_transfer_invoices, transfer_details

register = template.Library()


@register.inclusion_tag("payments/_transfer_overdue.html", takes_context=True)
def transfer_overdue_banner(context):
    tenant = context.get("tenant")
    overdue = overdue_transfer_invoices(tenant=tenant) if tenant is not None else []
    return {"tenant": tenant, "overdue": overdue, **(transfer_details(tenant=tenant) if overdue else {})}
