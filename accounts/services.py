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


# --- License limits (licenses issue): registering RPs and end users counts against the license. ---


def _license_limit(tenant: Tenant, field: str):
    from licenses.selectors import license_get

    license = license_get(tenant=tenant)
    return (license.plan, getattr(license.plan, field)) if license else (None, None)


@transaction.atomic
def relying_party_register(*, tenant: Tenant, rp_id: str, name: str = ""):
    """Register an RP; beyond the license's maximum number of RPs → LimitExceeded (409 limit_exceeded)."""
    from billing_portal.common.exceptions import LimitExceeded

    from .models import RelyingParty

    rp_id = (rp_id or "").strip()
    if not rp_id:
        raise ApplicationError("Enter an RP ID.", code="bad_rp_id")
    Tenant.objects.select_for_update().get(pk=tenant.pk)  # serialise registrations of this tenant
    if RelyingParty.objects.filter(tenant=tenant, rp_id=rp_id).exists():
        raise ApplicationError(f"The RP {rp_id} is already registered.", code="already_registered", status=409)
    plan, limit = _license_limit(tenant, "max_rps")
    if limit is not None and RelyingParty.objects.filter(tenant=tenant).count() >= limit:
        raise LimitExceeded(
            f"The {plan.name} license allows at most {limit:,} registered RPs. "
            "Update the license to register more."
        )
    return RelyingParty.objects.create(tenant=tenant, rp_id=rp_id, name=name.strip())


@transaction.atomic
def end_user_register(*, tenant: Tenant, user_id: str, display_name: str = ""):
    """Register an end user; beyond the license's maximum number of users → LimitExceeded (409 limit_exceeded)."""
    from billing_portal.common.exceptions import LimitExceeded

    from .models import EndUser

    user_id = (user_id or "").strip()
    if not user_id:
        raise ApplicationError("Enter a user ID.", code="bad_user_id")
    Tenant.objects.select_for_update().get(pk=tenant.pk)  # serialise registrations of this tenant
    if EndUser.objects.filter(tenant=tenant, user_id=user_id).exists():
        raise ApplicationError(f"The user {user_id} is already registered.", code="already_registered", status=409)
    plan, limit = _license_limit(tenant, "max_users")
    if limit is not None and EndUser.objects.filter(tenant=tenant).count() >= limit:
        raise LimitExceeded(
            f"The {plan.name} license allows at most {limit:,} registered users. "
            "Update the license to register more."
        )
    return EndUser.objects.create(tenant=tenant, user_id=user_id, display_name=display_name.strip())
