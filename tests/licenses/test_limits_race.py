"""Registrations racing for the last free slot: the tenant row lock lets exactly the limit through."""

import threading

import pytest
from django.db import connection

from accounts.models import RelyingParty
from billing_portal.common.exceptions import LimitExceeded
from licenses.registrations import relying_party_register
from tests.factories import TenantFactory


@pytest.mark.django_db(transaction=True)  # seeded plans are restored by tests/conftest.py
def test_concurrent_rp_registrations_never_exceed_the_limit():
    tenant = TenantFactory()  # Free: at most 1 RP
    barrier = threading.Barrier(6)
    outcomes = []

    def register(i):
        try:
            barrier.wait()
            relying_party_register(tenant=tenant, rp_id=f"rp{i}.example.com")
            outcomes.append("ok")
        except LimitExceeded:
            outcomes.append("limit")
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["limit"] * 5 + ["ok"]
    assert RelyingParty.objects.filter(tenant=tenant).count() == 1
