import secrets

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from billing_portal.common.exceptions import ApplicationError

from .models import Membership, Role, Tenant


def _unique_slug(name: str) -> str:
    base = (slugify(name) or "tenant")[:40]
    for _ in range(20):
        candidate = f"{base}-{secrets.token_hex(3)}"
        if not Tenant.objects.filter(slug=candidate).exists():
            return candidate
    raise ApplicationError("Could not allocate a tenant identifier; try again.")


@transaction.atomic
def tenant_create(*, owner, name: str, **fields) -> Tenant:
    """Create a tenant on the Free license with `owner` as owner, representative and payment administrator."""
    from licenses.services import license_start_free

    slug = fields.pop("slug", None) or _unique_slug(name)
    tenant = Tenant.objects.create(
        name=name, slug=slug, representative=owner, payment_administrator=owner, **fields
    )
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    license_start_free(tenant=tenant)
    return tenant


def tenant_update(*, tenant: Tenant, data: dict) -> Tenant:
    allowed = {"name", "address", "phone", "country"}
    unknown = set(data) - allowed
    if unknown:
        raise ApplicationError(f"Cannot change {', '.join(sorted(unknown))}.")
    for field, value in data.items():
        setattr(tenant, field, value)
    tenant.full_clean()
    tenant.save(update_fields=[*data.keys(), "updated_at"])
    return tenant


def _require_member(tenant: Tenant, user, what: str):
    if user is None or not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ApplicationError(f"The {what} must be a member of {tenant.name}.", code="not_a_member")


def tenant_set_representative(*, tenant: Tenant, user) -> Tenant:
    _require_member(tenant, user, "representative")
    tenant.representative = user
    tenant.save(update_fields=["representative", "updated_at"])
    return tenant


def tenant_set_payment_administrator(*, tenant: Tenant, user) -> Tenant:
    _require_member(tenant, user, "payment administrator")
    tenant.payment_administrator = user
    tenant.save(update_fields=["payment_administrator", "updated_at"])
    return tenant


def membership_add(*, tenant: Tenant, user, role: str = Role.MEMBER) -> Membership:
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code="bad_role")
    try:
        with transaction.atomic():
            return Membership.objects.create(tenant=tenant, user=user, role=role)
    except IntegrityError:
        raise ApplicationError(f"{user} is already a member of {tenant.name}.", code="already_member") from None


def api_key_create(*, tenant: Tenant, name: str, created_by) -> tuple:
    """A new API key for one tenant. Returns (key, raw key); only the hash is stored, show the raw key once."""

    from .models import ApiKey, hash_api_key

    name = (name or "").strip()
    if not name:
        raise ApplicationError("Give the API key a name.", code="name_required")
    raw = ApiKey.generate_raw_key()
    key = ApiKey.objects.create(
        name=name, scope=ApiKey.Scope.TENANT, tenant=tenant, prefix=raw[: 3 + ApiKey.PREFIX_LENGTH],
        key_hash=hash_api_key(raw), created_by=created_by,
    )
    return key, raw


def api_key_revoke(*, tenant: Tenant, key_id: int):
    """Revoke one of the tenant's keys (idempotent); a key of another tenant is not found."""
    from billing_portal.common import clock

    from .models import ApiKey

    with transaction.atomic():
        key = ApiKey.objects.select_for_update().filter(tenant=tenant, pk=key_id).first()
        if key is None:
            raise ApplicationError("No such API key.", code="not_found", status=404)
        if key.revoked_at is None:
            key.revoked_at = clock.now()
            key.save(update_fields=["revoked_at"])
    return key
