import factory
from django.contrib.auth import get_user_model

from accounts.models import Membership, Role, Tenant

DEFAULT_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["email"]
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    name = factory.Faker("name")
    password = factory.django.Password(DEFAULT_PASSWORD)


class TenantFactory(factory.django.DjangoModelFactory):
    """A tenant created through the service, so it has an owner, contacts and a Free license like real ones."""

    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Customer {n} K.K.")
    currency = "JPY"
    country = "JP"

    @classmethod
    def _create(cls, model_class, *args, owner=None, **kwargs):
        from accounts.services import tenant_create

        owner = owner or UserFactory()
        return tenant_create(owner=owner, **kwargs)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.MEMBER
