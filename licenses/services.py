"""License lifecycle: purchase, change now with proration, reserved downgrades, cancellation, period roll-over."""

from django.db import transaction
from django.utils.translation import gettext as _

from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError, Conflict, LimitExceeded

from .models import License, Plan, PlanChange, PlanReservation, ProrationBehavior, ProrationItem
from .notifications import license_event
from .pricing import plan_fixed_amount
from .prorations import check_payment_method, record_proration
from .registrations import tenant_suspend_over_limits
from .selectors import (
    free_plan_get,
    license_get,
    limits_violations,
    pending_reservation_get,
    period_bounds,
    plan_change_preview,
)
from .support import support_get


def license_start_free(*, tenant) -> License:
    """Put a new tenant on the Free license (no end date)."""
    now = clock.now()
    license, _created = License.objects.get_or_create(
        tenant=tenant,
        defaults={
            "plan": free_plan_get(currency=tenant.currency),
            "started_at": now,
            "current_period_start": now,
            "current_period_end": None,
            "auto_renew": True,
        },
    )
    return license


def on_tenant_created(*, type, tenant, data) -> None:  # noqa: A002
    """Subscribed to `tenant.created` (licenses/apps.py): every new tenant starts on Free."""
    license_start_free(tenant=tenant)


def _lock_license(tenant, *, at=None) -> License:
    """Lock the tenant row first (as RP / end-user registration does), then the license: limits stay race-safe.

    A period that has ended is rolled over under the same lock before anyone reads or changes the license, so a
    change at 00:05 on the 1st works on the month that has just begun, not the one that ended.
    """
    from accounts.models import Tenant

    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
    license = License.objects.select_for_update().select_related("plan").get(tenant=tenant)
    return _roll_over(tenant=tenant, at=at or clock.now(), license=license)


def _check_plan(*, tenant, plan: Plan) -> None:
    if plan.category != Plan.Category.LICENSE:
        raise ApplicationError(
            _("%(plan)s is not a license plan.") % {"plan": plan.name}, code="unknown_plan"
        )
    if plan.currency != tenant.currency:
        raise ApplicationError(
            _("%(plan)s is priced in %(plan_currency)s, but %(tenant)s is billed in %(currency)s.")
            % {
                "plan": plan.name,
                "plan_currency": plan.currency,
                "tenant": tenant.name,
                "currency": tenant.currency,
            },
            code="wrong_currency",
        )
    if plan.is_free:
        raise ApplicationError(
            _(
                "To return to Free, use “Cancel license”: the paid license runs to its end date, then becomes Free."
            ),
            code="use_cancel",
        )


def _check_limits(*, tenant, plan: Plan, cancel: bool = False) -> None:
    reasons = limits_violations(tenant=tenant, plan=plan)
    if reasons:
        text = (
            _("%(tenant)s cannot cancel to %(plan)s: %(reasons)s. Remove them first, then try again.")
            if cancel
            else _("%(tenant)s cannot change to %(plan)s: %(reasons)s. Remove them first, then try again.")
        )
        raise LimitExceeded(
            text % {"tenant": tenant.name, "plan": plan.name, "reasons": "; ".join(map(str, reasons))}
        )


def _reservation_transition(*, tenant, to: str, reservation=None) -> int:
    """The one transition function of PlanReservation.status: pending → applied | cancelled (both final).
    Without `reservation`: every pending reservation of the tenant (there is at most one)."""
    if to not in (PlanReservation.Status.APPLIED, PlanReservation.Status.CANCELLED):
        raise ApplicationError(
            _("A reservation cannot become %(status)s.") % {"status": to}, code="bad_transition"
        )
    pending = PlanReservation.objects.filter(tenant=tenant, status=PlanReservation.Status.PENDING)
    if reservation is not None:
        pending = pending.filter(pk=reservation.pk)
    changed = pending.update(status=to)
    if reservation is not None and changed:
        reservation.status = to
    return changed


def _check_behavior(proration_behavior: str, *, by_operator: bool) -> None:
    """Tenants (portal pages, tenant-scoped API keys) pay a change when they make it: `always_invoice` only.
    Deferring the bill (`create_prorations`) or waiving it (`none`) is the operator's decision (platform API
    keys, staff in admin)."""
    if proration_behavior not in ProrationBehavior.values:
        raise ApplicationError(
            _("proration_behavior must be one of %(values)s.")
            % {"values": ", ".join(ProrationBehavior.values)},
            code="bad_proration_behavior",
        )
    if proration_behavior != ProrationBehavior.ALWAYS_INVOICE and not by_operator:
        raise ApplicationError(
            _(
                "Only the operator can defer or waive the proration of a plan change; tenants' changes are "
                "invoiced at once (proration_behavior always_invoice)."
            ),
            code="proration_behavior_forbidden",
            status=403,
        )


@transaction.atomic
def license_purchase(*, tenant, plan: Plan, actor=None, source=PlanChange.Source.PORTAL) -> PlanChange:
    """Buy a paid license from Free. The rest of the current period is invoiced at once (prorated)."""
    _check_plan(tenant=tenant, plan=plan)
    check_payment_method(tenant)
    license = _lock_license(tenant)
    if not license.plan.is_free:
        raise Conflict(
            _("%(tenant)s already has the %(plan)s license; use “License update”.")
            % {"tenant": tenant.name, "plan": license.plan.name},
            code="already_paid",
        )
    _check_limits(tenant=tenant, plan=plan)
    now = clock.now()
    preview = plan_change_preview(tenant=tenant, plan=plan, at=now)
    change = PlanChange.objects.create(
        tenant=tenant,
        from_plan=license.plan,
        to_plan=plan,
        kind=PlanChange.Kind.PURCHASE,
        effective_at=now,
        proration_behavior=ProrationBehavior.ALWAYS_INVOICE,
        source=source,
        actor=actor,
        currency=plan.currency,
        unused_amount=0,
        remaining_amount=preview["remaining"],
        difference_amount=preview["remaining"],
        created_at=now,
    )
    license.plan = plan
    license.billed_plan = plan
    license.started_at = now
    license.current_period_start = preview["period_start"]
    license.current_period_end = preview["period_end"]
    license.auto_renew = True
    license.save()
    record_proration(
        tenant=tenant,
        change=change,
        preview=preview,
        proration_behavior=ProrationBehavior.ALWAYS_INVOICE,
        now=now,
    )
    license_event(
        tenant=tenant,
        action="license.purchased",
        actor=actor,
        plan=plan,
        when=now,
        data={"change": change.pk, "amount": change.difference_amount, "currency": change.currency},
    )
    return change


@transaction.atomic
def license_change_now(
    *,
    tenant,
    plan: Plan,
    proration_behavior: str,
    actor=None,
    source=PlanChange.Source.PORTAL,
    by_operator: bool = False,
) -> PlanChange:
    """Change a paid license's plan at once, prorated by the second for the rest of the period.

    A positive difference becomes proration items (`always_invoice`: invoiced at once; `create_prorations`: with
    the next invoice); a negative one (a downgrade now) becomes tenant credit. `none` (operator only): no
    proration, and the plan billed for the period stays what it was, so that a later downgrade credits only the
    unused part of what was actually billed (`License.billed_plan`).
    """
    _check_behavior(proration_behavior, by_operator=by_operator)
    _check_plan(tenant=tenant, plan=plan)
    check_payment_method(tenant)
    license = _lock_license(tenant)
    if license.plan.is_free:
        raise Conflict(_("The Free license cannot be updated; purchase a license first."), code="not_paid")
    if license.plan_id == plan.pk:
        raise Conflict(
            _("%(tenant)s already has the %(plan)s license.") % {"tenant": tenant.name, "plan": plan.name},
            code="same_plan",
        )
    if license.plan.interval != plan.interval:
        raise ApplicationError(
            _(
                "A license cannot switch between monthly and yearly billing in the middle of a period; "
                "cancel it and purchase the other one when it ends."
            ),
            code="interval_change",
        )
    _check_limits(tenant=tenant, plan=plan)
    now = clock.now()
    preview = plan_change_preview(tenant=tenant, plan=plan, at=now)
    prorated = proration_behavior != ProrationBehavior.NONE
    change = PlanChange.objects.create(
        tenant=tenant,
        from_plan=license.plan,
        to_plan=plan,
        kind=preview["kind"],
        effective_at=now,
        proration_behavior=proration_behavior,
        source=source,
        actor=actor,
        currency=plan.currency,
        unused_amount=preview["unused"] if prorated else 0,
        remaining_amount=preview["remaining"] if prorated else 0,
        difference_amount=preview["difference"] if prorated else 0,
        created_at=now,
    )
    license.plan = plan
    if prorated:
        license.billed_plan = plan
    license.auto_renew = True
    license.save(update_fields=["plan", "billed_plan", "auto_renew", "updated_at"])
    _reservation_transition(tenant=tenant, to=PlanReservation.Status.CANCELLED)
    record_proration(
        tenant=tenant, change=change, preview=preview, proration_behavior=proration_behavior, now=now
    )
    license_event(
        tenant=tenant,
        action="license.changed",
        actor=actor,
        plan=plan,
        when=now,
        data={
            "change": change.pk,
            "from": change.from_plan.name,
            "proration_behavior": proration_behavior,
            "difference": change.difference_amount,
            "currency": change.currency,
        },
    )
    return change


@transaction.atomic
def license_reserve_change(
    *, tenant, plan: Plan, actor=None, source=PlanChange.Source.PORTAL
) -> PlanReservation:
    """Reserve a plan (normally a downgrade) from the start of the next period. Replaces an earlier reservation."""
    _check_plan(tenant=tenant, plan=plan)
    license = _lock_license(tenant)
    if license.plan.is_free:
        raise Conflict(_("The Free license cannot be updated; purchase a license first."), code="not_paid")
    if license.plan_id == plan.pk:
        raise Conflict(
            _("%(tenant)s already has the %(plan)s license.") % {"tenant": tenant.name, "plan": plan.name},
            code="same_plan",
        )
    if not license.auto_renew:
        raise Conflict(
            _("This license is cancelled; undo the cancellation before reserving a change."),
            code="license_cancelled",
        )
    _check_limits(tenant=tenant, plan=plan)
    now = clock.now()
    _reservation_transition(tenant=tenant, to=PlanReservation.Status.CANCELLED)
    reservation = PlanReservation.objects.create(
        tenant=tenant,
        plan=plan,
        effective_at=license.current_period_end,
        source=source,
        actor=actor,
        created_at=now,
    )
    license_event(
        tenant=tenant,
        action="license.reservation_set",
        actor=actor,
        plan=plan,
        when=reservation.effective_at,
        data={"from": license.plan.name},
    )
    return reservation


@transaction.atomic
def license_reservation_cancel(*, tenant, actor=None) -> PlanReservation:
    """Cancel the reserved change: the current plan simply continues."""
    _lock_license(tenant)
    reservation = pending_reservation_get(tenant=tenant)
    if reservation is None:
        raise Conflict(_("There is no reserved license change to cancel."), code="no_reservation")
    _reservation_transition(tenant=tenant, to=PlanReservation.Status.CANCELLED, reservation=reservation)
    license_event(tenant=tenant, action="license.reservation_cancelled", actor=actor, plan=reservation.plan)
    return reservation


@transaction.atomic
def license_cancel(*, tenant, actor=None) -> License:
    """Stop auto-renewal: the paid license runs to its end date, then the tenant is on Free. Undoable.
    Owners only (contract page); `actor` None is the operator (admin, commands)."""
    from accounts.services import require_owner

    require_owner(tenant=tenant, actor=actor, action="cancel")
    license = _lock_license(tenant)
    if license.plan.is_free:
        raise Conflict(_("The Free license has no end date and cannot be cancelled."), code="not_paid")
    if not license.auto_renew:
        return license
    _check_limits(tenant=tenant, plan=free_plan_get(currency=tenant.currency), cancel=True)
    license.auto_renew = False
    license.save(update_fields=["auto_renew", "updated_at"])
    _reservation_transition(tenant=tenant, to=PlanReservation.Status.CANCELLED)
    license_event(
        tenant=tenant,
        action="license.cancelled",
        actor=actor,
        plan=license.plan,
        when=license.current_period_end,
    )
    return license


@transaction.atomic
def license_resume(*, tenant, actor=None) -> License:
    """Undo “Cancel license”: the license renews again at its end date."""
    license = _lock_license(tenant)
    if license.plan.is_free:
        raise Conflict(_("The Free license has no end date."), code="not_paid")
    if license.auto_renew:
        return license
    if license.current_period_end and license.current_period_end <= clock.now():
        raise Conflict(_("This license has already ended."), code="license_ended")
    license.auto_renew = True
    license.save(update_fields=["auto_renew", "updated_at"])
    license_event(tenant=tenant, action="license.resumed", actor=actor, plan=license.plan)
    return license


def licenses_roll_over(*, tenant, at=None, license=None) -> License:
    """Bring the license to the period containing `at`: renew, apply a due reservation, or fall back to Free.

    Idempotent: a period that has already been rolled over is not touched again. `license`: the caller already
    holds the tenant's and the license's row locks in its transaction (the billing cycle).
    """
    at = at or clock.now()
    with transaction.atomic(savepoint=license is None):
        return _roll_over(tenant=tenant, at=at, license=license or _lock_license(tenant, at=at))


def _roll_over(*, tenant, at, license) -> License:
    if license.current_period_end is None or license.current_period_end > at:
        return license
    while license.current_period_end is not None and license.current_period_end <= at:
        boundary = license.current_period_end
        if not license.auto_renew:
            free = free_plan_get(currency=tenant.currency)
            # Checked when requested and registrations are held to Free's limits since; if the tenant still
            # does not fit (ops' direct edits, a catalogue change), it is suspended until it does.
            reasons = limits_violations(tenant=tenant, plan=free)
            PlanChange.objects.create(
                tenant=tenant,
                from_plan=license.plan,
                to_plan=free,
                kind=PlanChange.Kind.EXPIRY,
                effective_at=boundary,
                source=PlanChange.Source.SYSTEM,
                currency=tenant.currency,
                created_at=at,
            )
            license_event(
                tenant=tenant,
                action="license.expired",
                plan=free,
                when=boundary,
                data={"from": license.plan.name},
            )
            license.plan = free
            license.billed_plan = None
            license.started_at = boundary
            license.current_period_start = boundary
            license.current_period_end = None
            license.auto_renew = True
            if reasons:
                tenant_suspend_over_limits(tenant=tenant, reasons=reasons, plan=free)
            break
        reservation = (
            PlanReservation.objects.select_for_update()
            .select_related("plan")
            .filter(tenant=tenant, status=PlanReservation.Status.PENDING, effective_at__lte=boundary)
            .first()
        )
        refused = limits_violations(tenant=tenant, plan=reservation.plan) if reservation is not None else []
        if refused:
            # The reserved plan no longer fits: it is not applied; the current plan renews and the customer is told
            # what to remove before reserving again.
            _reservation_transition(
                tenant=tenant, to=PlanReservation.Status.CANCELLED, reservation=reservation
            )
            license_event(
                tenant=tenant,
                action="license.reservation_refused",
                actor=None,
                plan=reservation.plan,
                when=boundary,
                data={"from": license.plan.name, "reasons": refused},
            )
        elif reservation is not None:
            PlanChange.objects.create(
                tenant=tenant,
                from_plan=license.plan,
                to_plan=reservation.plan,
                kind=PlanChange.Kind.DOWNGRADE
                if _cheaper(reservation.plan, license.plan)
                else PlanChange.Kind.CHANGE,
                effective_at=boundary,
                proration_behavior=ProrationBehavior.NONE,
                source=reservation.source,
                actor=reservation.actor,
                currency=tenant.currency,
                created_at=at,
            )
            _reservation_transition(tenant=tenant, to=PlanReservation.Status.APPLIED, reservation=reservation)
            license_event(
                tenant=tenant,
                action="license.changed",
                actor=reservation.actor,
                plan=reservation.plan,
                when=boundary,
                data={"from": license.plan.name, "reserved": True},
            )
            license.plan = reservation.plan
        license_renew(license, tenant=tenant, boundary=boundary)
    license.save()
    return license


def license_renew(license, *, tenant, boundary) -> None:
    """The license (in memory) renewed for the period starting at `boundary` on its current plan; the caller
    saves it (`_roll_over`, or the set-based monthly run for plain renewals, payments/invoicing/monthly_run.py)."""
    license.current_period_start, license.current_period_end = period_bounds(
        tenant=tenant, at=boundary, interval=license.plan.interval
    )
    license.billed_plan = license.plan  # the new period's fixed fee is on its monthly invoice


def _cheaper(a: Plan, b: Plan) -> bool:
    return plan_fixed_amount(a) < plan_fixed_amount(b)


def plan_change(
    *,
    tenant,
    plan: Plan,
    when: str,
    proration_behavior: str | None,
    actor=None,
    source,
    by_operator: bool = False,
) -> dict:
    """One entry point for the API and the ops console: purchase, change now, or reserve for the next period.
    `by_operator`: the caller is the operator (platform API key, staff), who alone may defer or waive proration."""
    if when not in ("now", "next_period"):
        raise ApplicationError(_("when must be 'now' or 'next_period'."), code="bad_when")
    behavior = proration_behavior or ProrationBehavior.ALWAYS_INVOICE
    _check_behavior(behavior, by_operator=by_operator)
    current = license_get(tenant=tenant)
    if current.plan.is_free:
        return {
            "result": "purchased",
            "change": license_purchase(tenant=tenant, plan=plan, actor=actor, source=source),
        }
    if when == "now":
        return {
            "result": "changed",
            "change": license_change_now(
                tenant=tenant,
                plan=plan,
                proration_behavior=behavior,
                actor=actor,
                source=source,
                by_operator=by_operator,
            ),
        }
    return {
        "result": "reserved",
        "reservation": license_reserve_change(tenant=tenant, plan=plan, actor=actor, source=source),
    }


def licenses_unsubscribe_check(*, tenant) -> None:
    """A tenant unsubscribes only from Free and without a running support plan."""
    license = license_get(tenant=tenant)
    if license is not None and not license.plan.is_free:
        raise Conflict(
            _("Customers with a paid license unsubscribe through us: please contact the operator."),
            code="paid_license",
        )
    support = support_get(tenant=tenant)
    if support is not None:
        raise Conflict(
            _("%(plan)s is still running: cancel the support plan and unsubscribe after it ends.")
            % {"plan": support.plan.name},
            code="support_plan_active",
        )


def licenses_data_delete(*, tenant) -> None:
    """Unsubscribing: a reserved change and unbilled prorations go; the license and its history stay."""
    PlanReservation.objects.filter(tenant=tenant).delete()
    ProrationItem.objects.filter(tenant=tenant, status=ProrationItem.Status.PENDING).delete()
