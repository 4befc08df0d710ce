"""Unsubscribing (退会) a Free tenant, across every app: payments is the one app that knows them all.

Deletes everything the tenant registered (members' access, RPs, end users, metering data, API keys, invitations,
payment account and cards; the Stripe customer too) and anonymises the tenant row. Invoices and payments stay,
as the law requires."""

from django.db import transaction

from accounts.models import Tenant
from accounts.services import tenant_close, tenant_unsubscribe_check
from licenses.services import licenses_data_delete, licenses_unsubscribe_check
from metering.services import metering_data_delete

from .charging.customers import payments_data_close


def tenant_unsubscribe(*, tenant: Tenant, actor) -> Tenant:
    tenant_unsubscribe_check(tenant=tenant, actor=actor)
    licenses_unsubscribe_check(tenant=tenant)
    counts = payments_data_close(tenant=tenant)  # calls Stripe: outside the transaction below
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        counts.update(metering_data_delete(tenant=tenant))
        licenses_data_delete(tenant=tenant)
        return tenant_close(tenant=tenant, actor=actor, counts=counts)
