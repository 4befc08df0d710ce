import pytest
from django.db import IntegrityError, transaction

from billing_portal.common.exceptions import ApplicationError
from payments.invoicing.credits import credit_grant
from payments.invoicing.selectors import credit_balance
from payments.models import Credit


def test_credit_grant_is_idempotent_by_source_key(tenant):
    first = credit_grant(
        tenant=tenant,
        name="Downgrade",
        amount_minor=968,
        currency="JPY",
        source="proration",
        source_key="proration-1",
    )
    again = credit_grant(
        tenant=tenant,
        name="Downgrade",
        amount_minor=968,
        currency="JPY",
        source="proration",
        source_key="proration-1",
    )
    assert first.pk == again.pk
    assert credit_balance(tenant=tenant) == 968


def test_credit_in_wrong_currency_or_non_positive_is_refused(tenant):
    with pytest.raises(ApplicationError, match="billed in JPY"):
        credit_grant(tenant=tenant, name="x", amount_minor=5, currency="USD", source="manual", source_key="a")
    with pytest.raises(ApplicationError):
        credit_grant(tenant=tenant, name="x", amount_minor=0, currency="JPY", source="manual", source_key="b")
    assert not Credit.objects.exists()


def test_used_can_never_exceed_charged(tenant):
    credit = credit_grant(
        tenant=tenant, name="x", amount_minor=100, currency="JPY", source="manual", source_key="c"
    )
    credit.amount_used = 101
    with pytest.raises(IntegrityError), transaction.atomic():
        credit.save()
