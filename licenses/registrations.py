"""Registering RPs and end users, which counts against the license's limits, and the tenant's suspension when
it is above them (writes). The RelyingParty and EndUser rows are accounts' models; the limits are the license's."""

from django.db import transaction
from django.utils.translation import gettext_lazy

from accounts.audit import audit_record
from accounts.models import EndUser, RelyingParty, Tenant
from accounts.services import tenant_status_set
from billing_portal.common.clock import local_text
from billing_portal.common.exceptions import ApplicationError, LimitExceeded

from .notifications import license_event
from .selectors import license_get, limits_violations, registration_limit

_REGISTRATION_TEXTS = {
    "RP": {
        "enter": gettext_lazy("Enter an RP ID."),
        "taken": gettext_lazy("The RP %(value)s is already registered."),
        "missing": gettext_lazy("There is no registered RP %(value)s."),
        "limit_later": gettext_lazy(
            "The license becomes %(plan)s on %(when)s, which allows at most %(limit)s "
            "registered RPs. Cancel that change to register more."
        ),
        "limit": gettext_lazy(
            "The %(plan)s license allows at most %(limit)s registered RPs. Update the license "
            "to register more."
        ),
    },
    "user": {
        "enter": gettext_lazy("Enter a user ID."),
        "taken": gettext_lazy("The user %(value)s is already registered."),
        "missing": gettext_lazy("There is no registered user %(value)s."),
        "limit_later": gettext_lazy(
            "The license becomes %(plan)s on %(when)s, which allows at most %(limit)s "
            "registered users. Cancel that change to register more."
        ),
        "limit": gettext_lazy(
            "The %(plan)s license allows at most %(limit)s registered users. Update the "
            "license to register more."
        ),
    },
}


def _register_within_limit(
    *, tenant: Tenant, model, field: str, value: str, limit_field: str, what: str, extra: dict
):
    """Register one RP or end user; the tenant row is locked so concurrent registrations cannot pass the limit.
    The limit is the current plan's, or the stricter one of a cancellation's Free / a reserved downgrade."""

    texts = _REGISTRATION_TEXTS[what]
    value = (value or "").strip()
    if not value:
        raise ApplicationError(str(texts["enter"]), code=f"bad_{field}")
    Tenant.objects.select_for_update().get(pk=tenant.pk)  # serialise registrations of this tenant
    if model.objects.filter(tenant=tenant, **{field: value}).exists():
        raise ApplicationError(texts["taken"] % {"value": value}, code="already_registered", status=409)
    limit, plan, when = registration_limit(tenant=tenant, field=limit_field)
    if limit is not None and model.objects.filter(tenant=tenant).count() >= limit:
        if when is not None:
            raise LimitExceeded(
                texts["limit_later"]
                % {"plan": plan.name, "when": local_text(when, tenant.time_zone), "limit": f"{limit:,}"}
            )
        raise LimitExceeded(texts["limit"] % {"plan": plan.name, "limit": f"{limit:,}"})
    return model.objects.create(tenant=tenant, **{field: value}, **extra)


@transaction.atomic
def relying_party_register(*, tenant: Tenant, rp_id: str, name: str = ""):
    """Register an RP; beyond the license's maximum number of RPs → LimitExceeded (409 limit_exceeded)."""
    return _register_within_limit(
        tenant=tenant,
        model=RelyingParty,
        field="rp_id",
        value=rp_id,
        limit_field="max_rps",
        what="RP",
        extra={"name": name.strip()},
    )


@transaction.atomic
def end_user_register(*, tenant: Tenant, user_id: str, display_name: str = ""):
    """Register an end user; beyond the license's maximum number of users → LimitExceeded (409 limit_exceeded)."""
    return _register_within_limit(
        tenant=tenant,
        model=EndUser,
        field="user_id",
        value=user_id,
        limit_field="max_users",
        what="user",
        extra={"display_name": display_name.strip()},
    )


def _registration_remove(*, tenant: Tenant, model, field: str, value: str, what: str, actor=None) -> None:
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        deleted = model.objects.filter(tenant=tenant, **{field: value}).delete()[0]
        if not deleted:
            raise ApplicationError(
                _REGISTRATION_TEXTS[what]["missing"] % {"value": value}, code="not_found", status=404
            )
        audit_record(
            action=f"{model._meta.model_name}.removed", tenant=tenant, actor=actor, data={field: value}
        )
        tenant_reactivate_if_within_limits(tenant=tenant, actor=actor)


def relying_party_remove(*, tenant: Tenant, rp_id: str, actor=None) -> None:

    _registration_remove(
        tenant=tenant, model=RelyingParty, field="rp_id", value=rp_id, what="RP", actor=actor
    )


def end_user_remove(*, tenant: Tenant, user_id: str, actor=None) -> None:

    _registration_remove(
        tenant=tenant, model=EndUser, field="user_id", value=user_id, what="user", actor=actor
    )


def tenant_suspend_over_limits(*, tenant: Tenant, reasons: list[str], plan) -> Tenant:
    """The roll-over found the tenant above its new plan's limits: suspend it and tell it what to remove."""
    tenant = tenant_status_set(
        tenant=tenant, status=Tenant.Status.SUSPENDED, audit=False
    )  # license_event audits
    license_event(tenant=tenant, action="tenant.suspended", plan=plan, data={"reasons": reasons})
    return tenant


def tenant_reactivate_if_within_limits(*, tenant: Tenant, actor=None) -> Tenant:

    if tenant.status != Tenant.Status.SUSPENDED:
        return tenant
    if limits_violations(tenant=tenant, plan=license_get(tenant=tenant).plan):
        return tenant
    return tenant_status_set(tenant=tenant, status=Tenant.Status.ACTIVE, actor=actor)
