import pytest
from django.core.cache import cache

from accounts.models import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    """The cache is the real Redis; keep tests independent of each other."""
    cache.clear()
    yield


@pytest.fixture
def tenant(db):
    return TenantFactory()


@pytest.fixture
def owner(tenant):
    return tenant.representative


@pytest.fixture
def member_with_role(tenant):
    def make(role):
        return MembershipFactory(tenant=tenant, role=role).user

    return make


@pytest.fixture
def billing_admin(member_with_role):
    return member_with_role(Role.BILLING_ADMIN)


@pytest.fixture
def manager(member_with_role):
    return member_with_role(Role.MANAGER)


@pytest.fixture
def plain_member(member_with_role):
    return member_with_role(Role.MEMBER)


@pytest.fixture
def other_tenant(db):
    return TenantFactory(name="Other Tenant Ltd.")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def user(db):
    return UserFactory()
