import hashlib
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from billing_portal.common import clock, events
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.notify import send_templated_mail

from .audit import audit_record
from .models import Invitation, Membership, Role, Tenant


def _unique_slug(name: str) -> str:
    base = (slugify(name) or "tenant")[:40]
    for _attempt in range(20):
        candidate = f"{base}-{secrets.token_hex(3)}"
        if not Tenant.objects.filter(slug=candidate).exists():
            return candidate
    raise ApplicationError(_("Could not allocate a tenant identifier; try again."))


@transaction.atomic
def user_language_set(*, user, language: str):
    """The language of the user's pages and e-mails; "" falls back to the browser's."""
    from django.conf import settings

    if language not in {code for code, _label in settings.LANGUAGES} | {""}:
        raise ApplicationError(_("Unknown language."), code="invalid_language")
    user.language = language
    user.save(update_fields=["language"])
    return user


@transaction.atomic
def tenant_create(*, owner, name: str, **fields) -> Tenant:
    """Create a tenant with `owner` as owner, representative and payment administrator. `tenant.created` is
    announced in the same transaction: `licenses` puts the tenant on the Free license then."""
    slug = fields.pop("slug", None) or _unique_slug(name)
    tenant = Tenant.objects.create(
        name=name, slug=slug, representative=owner, payment_administrator=owner, **fields
    )
    Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    events.publish("tenant.created", tenant=tenant, data={"name": tenant.name, "currency": tenant.currency})
    return tenant


def tenant_update(*, tenant: Tenant, data: dict) -> Tenant:
    allowed = {"name", "postal_code", "prefecture", "address", "phone", "country", "document_language"}
    unknown = set(data) - allowed
    if unknown:
        raise ApplicationError(_("Cannot change %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    for field, value in data.items():
        setattr(tenant, field, value)
    tenant.full_clean()
    tenant.save(update_fields=[*data.keys(), "updated_at"])
    return tenant


# What only owners may do, as the refusal names it ("Only an owner of X can <action>.").
OWNER_ACTIONS = {
    "representative": pgettext_lazy("owner action", "change the representative"),
    "payment_administrator": pgettext_lazy("owner action", "change the payment administrator"),
    "cancel": pgettext_lazy("owner action", "cancel the contract"),
    "unsubscribe": pgettext_lazy("owner action", "unsubscribe (the representative must be an owner)"),
}
CONTACT_LABELS = {
    "representative": gettext_lazy("representative"),
    "payment_administrator": gettext_lazy("payment administrator"),
}


def require_owner(*, tenant: Tenant, actor, action: str) -> None:
    """Owner-only actions (see models.OWNER_ONLY). `actor` None is the system itself (tasks, commands).
    `action` is a key of OWNER_ACTIONS."""
    if actor is None:
        return
    if not Membership.objects.filter(tenant=tenant, user=actor, role=Role.OWNER).exists():
        raise ApplicationError(
            _("Only an owner of %(tenant)s can %(action)s.")
            % {"tenant": tenant.name, "action": OWNER_ACTIONS[action]},
            code="owner_required",
            status=403,
        )


def _require_member(tenant: Tenant, user, field: str):
    if user is None or not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ApplicationError(
            _("The %(contact)s must be a member of %(tenant)s.")
            % {"contact": CONTACT_LABELS[field], "tenant": tenant.name},
            code="not_a_member",
        )


@transaction.atomic
def _tenant_set_contact(*, tenant: Tenant, user, actor, field: str) -> Tenant:
    require_owner(tenant=tenant, actor=actor, action=field)
    _require_member(tenant, user, field)
    previous = getattr(tenant, field)
    setattr(tenant, field, user)
    tenant.save(update_fields=[field, "updated_at"])
    audit_record(
        action=f"{field}.changed",
        tenant=tenant,
        actor=actor,
        data={"from": previous.email if previous else None, "to": user.email},
    )
    return tenant


def tenant_set_representative(*, tenant: Tenant, user, actor=None) -> Tenant:
    return _tenant_set_contact(tenant=tenant, user=user, actor=actor, field="representative")


def tenant_set_payment_administrator(*, tenant: Tenant, user, actor=None) -> Tenant:
    return _tenant_set_contact(tenant=tenant, user=user, actor=actor, field="payment_administrator")


def membership_add(*, tenant: Tenant, user, role: str = Role.MEMBER) -> Membership:
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code="bad_role")
    try:
        with transaction.atomic():
            return Membership.objects.create(tenant=tenant, user=user, role=role)
    except IntegrityError:
        raise ApplicationError(
            _("%(user)s is already a member of %(tenant)s.") % {"user": user, "tenant": tenant.name},
            code="already_member",
        ) from None


def _owner_count(tenant: Tenant) -> int:
    return Membership.objects.filter(tenant=tenant, role=Role.OWNER).count()


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor=None) -> Membership:
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code="bad_role")
    # Lock the tenant's memberships so two owners cannot demote each other at once.
    list(Membership.objects.select_for_update().filter(tenant_id=membership.tenant_id))
    membership.refresh_from_db()
    if membership.role == role:
        return membership
    if membership.role == Role.OWNER and _owner_count(membership.tenant) == 1:
        raise ApplicationError(
            _("%(name)s is the last owner of %(tenant)s. Make another member an owner first.")
            % {"name": membership.user.display_name, "tenant": membership.tenant.name},
            code="last_owner",
        )
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action="membership.role_changed",
        tenant=membership.tenant,
        actor=actor,
        data={"user": membership.user.email, "from": previous, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor=None) -> None:
    tenant = Tenant.objects.select_for_update().get(pk=membership.tenant_id)
    list(Membership.objects.select_for_update().filter(tenant=tenant))
    if membership.role == Role.OWNER and _owner_count(tenant) == 1:
        raise ApplicationError(
            _("%(name)s is the last owner of %(tenant)s and cannot be removed.")
            % {"name": membership.user.display_name, "tenant": tenant.name},
            code="last_owner",
        )
    for field, label in CONTACT_LABELS.items():
        if getattr(tenant, f"{field}_id") == membership.user_id:
            raise ApplicationError(
                _("%(name)s is the %(contact)s. Choose another %(contact)s before removing them.")
                % {"name": membership.user.display_name, "contact": label},
                code="contact_member",
            )
    email = membership.user.email
    membership.delete()
    audit_record(action="membership.removed", tenant=tenant, actor=actor, data={"user": email})


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, tenant: Tenant, email: str, role: str, invited_by) -> tuple[Invitation, str]:
    """Invite an e-mail address; returns the invitation and the raw token (only ever sent by e-mail)."""
    email = email.strip().lower()
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", code="bad_role")
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise ApplicationError(
            _("%(user)s is already a member of %(tenant)s.") % {"user": email, "tenant": tenant.name},
            code="already_member",
        )
    now = clock.now()
    Invitation.objects.filter(
        tenant=tenant, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=email,
        role=role,
        token_hash=_token_hash(token),
        invited_by=invited_by,
        created_at=now,
        expires_at=now + timedelta(days=Invitation.VALID_DAYS),
    )
    audit_record(
        action="invitation.created", tenant=tenant, actor=invited_by, data={"email": email, "role": role}
    )
    accept_path = reverse("invitation_accept", args=[token])
    transaction.on_commit(
        lambda: send_templated_mail(
            name="invitation",
            to=[email],
            context={"invitation": invitation, "accept_path": accept_path},
            time_zone=tenant.time_zone,
        )
    )
    return invitation, token


def invitation_get_open(*, token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(token_hash=_token_hash(token))
        .first()
    )
    if invitation is None or invitation.revoked_at is not None:
        raise ApplicationError(_("This invitation link is not valid."), code="invitation_invalid", status=404)
    if invitation.accepted_at is not None:
        raise ApplicationError(
            _("This invitation has already been accepted."), code="invitation_used", status=409
        )
    if not invitation.is_open(clock.now()):
        raise ApplicationError(
            _("This invitation has expired. Ask an owner of the tenant to invite you again."),
            code="invitation_expired",
            status=410,
        )
    return invitation


def _require_invitee(invitation: Invitation, user) -> None:
    """The link alone reveals nothing: whoever is not the invited address learns neither the tenant, the role nor
    the address the invitation was sent to."""
    if invitation.email.lower() != (user.email or "").lower():
        raise ApplicationError(
            _(
                "This invitation was sent to a different e-mail address than the one you are signed in with "
                "(%(email)s). Sign in with the address that received the invitation e-mail."
            )
            % {"email": user.email},
            code="wrong_user",
            status=403,
        )


def invitation_get_for_user(*, token: str, user) -> Invitation:
    """The open invitation behind `token`, only for the invited user (else ApplicationError, no details)."""
    invitation = invitation_get_open(token=token)
    _require_invitee(invitation, user)
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    invitation = invitation_get_open(token=token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ApplicationError(
            _("This invitation has already been accepted."), code="invitation_used", status=409
        )
    _require_invitee(invitation, user)
    membership, created = Membership.objects.get_or_create(
        tenant=invitation.tenant, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = clock.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        action="invitation.accepted",
        tenant=invitation.tenant,
        actor=user,
        data={"email": user.email, "role": membership.role},
    )
    return membership


# --- tenant status: the one transition function ---

_TENANT_TRANSITIONS = {
    Tenant.Status.ACTIVE: {Tenant.Status.SUSPENDED, Tenant.Status.CLOSED},
    Tenant.Status.SUSPENDED: {Tenant.Status.ACTIVE, Tenant.Status.CLOSED},
    Tenant.Status.CLOSED: set(),
}


def tenant_status_set(
    *, tenant: Tenant, status: str, actor=None, data: dict | None = None, audit=True
) -> Tenant:
    """Every change of Tenant.status goes through here: active ⇄ suspended (above the plan's limits after a
    cancellation took effect, back once it fits), active/suspended → closed (unsubscribe)."""
    if tenant.status == status:
        return tenant
    if status not in _TENANT_TRANSITIONS.get(tenant.status, set()):
        raise ApplicationError(
            _("A customer whose status is %(status)s cannot become %(to)s.")
            % {"status": tenant.get_status_display(), "to": status},
            code="bad_transition",
        )
    Tenant.objects.filter(pk=tenant.pk).update(status=status, updated_at=clock.now())
    tenant.status = status
    if audit:
        audit_record(action=f"tenant.{status}", tenant=tenant, actor=actor, data=data or {})
    return tenant


def api_key_create(*, tenant: Tenant, name: str, created_by) -> tuple:
    """A new API key for one tenant. Returns (key, raw key); only the hash is stored, show the raw key once."""

    from .models import ApiKey, hash_api_key

    name = (name or "").strip()
    if not name:
        raise ApplicationError(_("Give the API key a name."), code="name_required")
    raw = ApiKey.generate_raw_key()
    key = ApiKey.objects.create(
        name=name,
        scope=ApiKey.Scope.TENANT,
        tenant=tenant,
        prefix=raw[: 3 + ApiKey.PREFIX_LENGTH],
        key_hash=hash_api_key(raw),
        created_by=created_by,
    )
    return key, raw


def api_key_revoke(*, tenant: Tenant, key_id: int):
    """Revoke one of the tenant's keys (idempotent); a key of another tenant is not found."""
    from billing_portal.common import clock

    from .models import ApiKey

    with transaction.atomic():
        key = ApiKey.objects.select_for_update().filter(tenant=tenant, pk=key_id).first()
        if key is None:
            raise ApplicationError(_("No such API key."), code="not_found", status=404)
        if key.revoked_at is None:
            key.revoked_at = clock.now()
            key.save(update_fields=["revoked_at"])
    return key


def tenant_unsubscribe_check(*, tenant: Tenant, actor) -> None:
    """Only the representative, and only while they are an owner, may unsubscribe (the view also asks for their
    password again)."""
    if actor is None or tenant.representative_id != actor.pk:
        raise ApplicationError(
            _("Only the representative can unsubscribe."), code="not_representative", status=403
        )
    require_owner(tenant=tenant, actor=actor, action="unsubscribe")


def tenant_close(*, tenant: Tenant, actor, counts: dict) -> Tenant:
    """The accounts part of unsubscribing (payments.unsubscribe orchestrates the whole): delete the RPs, end users,
    API keys, invitations and memberships, anonymise the tenant row and close it. Call inside the transaction
    that locked the tenant; `counts` (what the other apps deleted) goes into the audit entry."""
    from .models import ApiKey, EndUser, RelyingParty

    counts["relying_parties"] = RelyingParty.objects.filter(tenant=tenant).delete()[0]
    counts["end_users"] = EndUser.objects.filter(tenant=tenant).delete()[0]
    counts["api_keys"] = ApiKey.objects.filter(tenant=tenant).delete()[0]
    counts["invitations"] = Invitation.objects.filter(tenant=tenant).delete()[0]
    counts["members"] = Membership.objects.filter(tenant=tenant).delete()[0]
    former_name = tenant.name
    tenant.name = f"Closed customer #{tenant.pk}"
    tenant.address = ""
    tenant.postal_code = ""
    tenant.prefecture = ""
    tenant.phone = ""
    tenant.representative = None
    tenant.payment_administrator = None
    tenant.save()
    tenant_status_set(tenant=tenant, status=Tenant.Status.CLOSED, actor=actor)
    audit_record(
        action="tenant.unsubscribed",
        tenant=tenant,
        actor=actor,
        data={"former_name": former_name, **{k: v for k, v in counts.items() if v}},
    )
    events.publish("tenant.unsubscribed", tenant=tenant, data={})
    return tenant
