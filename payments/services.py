from django.db import IntegrityError, transaction

from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError

from .models import Credit


def credit_grant(*, tenant, name, amount_minor, currency, source, source_key, expires_at=None) -> Credit:
    """Grant credit once per `source_key`; granting again returns the existing credit."""
    if amount_minor <= 0:
        raise ApplicationError("A credit must be a positive amount.", code="bad_amount")
    if currency != tenant.currency:
        raise ApplicationError(
            f"This credit is in {currency}, but {tenant.name} is billed in {tenant.currency}.", code="wrong_currency"
        )
    try:
        with transaction.atomic():
            return Credit.objects.create(
                tenant=tenant, name=name, amount_charged=amount_minor, currency=currency, source=source,
                source_key=source_key, expires_at=expires_at, registered_at=clock.now(),
            )
    except IntegrityError:
        existing = Credit.objects.get(source_key=source_key)
        if existing.tenant_id != tenant.pk:
            raise
        return existing
