"""Catalogue rules (writes): a plan never mixes monthly and yearly units or currencies, whichever path edits
the plan, one of its menus or one of their pricing units (admin forms, code, shell, data migrations).

Admin forms call the `*_problems` functions in `clean()` so a person gets field errors; the model signals at
the bottom call the same functions on every save / m2m change so no other path can get around them.
"""

from django.core.exceptions import ValidationError
from django.db.models.signals import m2m_changed, pre_save
from django.dispatch import receiver
from django.utils.translation import gettext as _

from .models import Menu, Plan, PricingUnit


def _interval_label(interval: str) -> str:
    return str(dict(Plan.Interval.choices).get(interval, interval)).lower()


def _plan_named(plan) -> str:
    return _("Plan %(name)s") % {"name": plan.name}


def plan_problems(*, interval: str | None, currency: str | None, units, name: str | None = None) -> list[str]:
    """Why a plan billed `interval` in `currency` cannot be made of `units` (empty when it can). `name`: how the
    messages call the plan (translated; default "The plan")."""
    name = name or _("The plan")
    units = list(units)
    problems = []
    intervals = {u.interval for u in units}
    if len(intervals) > 1:
        problems.append(_("%(plan)s cannot mix monthly and yearly pricing units.") % {"plan": name})
    elif intervals and interval and intervals != {interval}:
        problems.append(
            _("%(plan)s is billed %(interval)s but its units are %(units)s.")
            % {
                "plan": name,
                "interval": _interval_label(interval),
                "units": _interval_label(next(iter(intervals))),
            }
        )
    wrong = sorted(u.unit_name for u in units if currency and u.currency != currency)
    if wrong:
        problems.append(
            _("These units are not priced in %(currency)s: %(units)s.")
            % {"currency": currency, "units": ", ".join(wrong)}
        )
    return problems


def _plan_units(plan, *, replace_menu=None, menu_units=None, replace_unit=None):
    units = {}
    # A form saving the plan together with new menus says which menus it is about to set.
    menus = getattr(plan, "_pending_menus", None)
    for menu in menus if menus is not None else plan.menus.all():
        for unit in (
            menu_units if replace_menu is not None and menu.pk == replace_menu.pk else menu.units.all()
        ):
            units[unit.pk] = unit
    if replace_unit is not None and replace_unit.pk in units:
        units[replace_unit.pk] = replace_unit
    return list(units.values())


def menu_problems(*, menu: Menu, units) -> list[str]:
    """A menu's own units must agree, and every plan using the menu must stay consistent with them."""
    units = list(units)
    problems = []
    if len({u.interval for u in units}) > 1:
        problems.append(_("A menu cannot mix monthly and yearly pricing units."))
    if len({u.currency for u in units}) > 1:
        problems.append(_("A menu cannot mix currencies."))
    if menu.pk:
        for plan in Plan.objects.filter(menus=menu).distinct():
            problems += plan_problems(
                interval=plan.interval,
                currency=plan.currency,
                name=_plan_named(plan),
                units=_plan_units(plan, replace_menu=menu, menu_units=units),
            )
    return list(dict.fromkeys(problems))


def unit_problems(*, unit: PricingUnit) -> list[str]:
    """A pricing unit's interval or currency must still fit every plan that uses it (through its menus)."""
    if not unit.pk:
        return []
    problems = []
    for plan in Plan.objects.filter(menus__units=unit).distinct():
        problems += plan_problems(
            interval=plan.interval,
            currency=plan.currency,
            name=_plan_named(plan),
            units=_plan_units(plan, replace_unit=unit),
        )
    for menu in Menu.objects.filter(units=unit).distinct():
        others = [u for u in menu.units.all() if u.pk != unit.pk]
        if any(u.interval != unit.interval for u in others):
            problems.append(
                _("Menu %(menu)s would mix monthly and yearly pricing units.") % {"menu": menu.display_name}
            )
        if any(u.currency != unit.currency for u in others):
            problems.append(_("Menu %(menu)s would mix currencies.") % {"menu": menu.display_name})
    return list(dict.fromkeys(problems))


def plan_limit_problems(*, plan: Plan, max_rps, max_users) -> dict[str, list[str]]:
    """Lowering a plan's limits must not leave a tenant on it (or about to move to it) above them: the problems
    per limit field (max_rps, max_users); empty when there are none."""
    if not plan.pk:
        return {}
    from django.db.models import Count, Q

    from accounts.models import Tenant

    on_it = Q(license__plan=plan) | Q(plan_reservations__plan=plan, plan_reservations__status="pending")
    if plan.is_free:  # cancelled licenses become Free at their end
        on_it |= Q(license__auto_renew=False, license__plan__currency=plan.currency)
    tenants = (
        Tenant.objects.filter(on_it)
        .distinct()
        .annotate(rps=Count("relying_parties", distinct=True), users=Count("end_users", distinct=True))
    )
    problems = {}
    for tenant in tenants:
        if max_rps is not None and tenant.rps > max_rps:
            problems.setdefault("max_rps", []).append(
                _("%(tenant)s has %(count)s RPs registered (limit %(limit)s).")
                % {"tenant": tenant.name, "count": tenant.rps, "limit": max_rps}
            )
        if max_users is not None and tenant.users > max_users:
            problems.setdefault("max_users", []).append(
                _("%(tenant)s has %(count)s users registered (limit %(limit)s).")
                % {"tenant": tenant.name, "count": f"{tenant.users:,}", "limit": f"{max_users:,}"}
            )
    return problems


# --- the last line of defence: every save path ------------------------------------------------------------


@receiver(pre_save, sender=PricingUnit)
def _unit_pre_save(sender, instance, raw=False, **kwargs):
    if raw or not instance.pk:
        return
    problems = unit_problems(unit=instance)
    if problems:
        raise ValidationError(problems)


@receiver(pre_save, sender=Plan)
def _plan_pre_save(sender, instance, raw=False, **kwargs):
    if raw or not instance.pk:
        return
    problems = plan_problems(
        interval=instance.interval, currency=instance.currency, units=_plan_units(instance)
    )
    if problems:
        raise ValidationError(problems)


@receiver(m2m_changed, sender=Plan.menus.through)
def _plan_menus_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action != "pre_add" or not pk_set:
        return
    plans = [instance] if not reverse else list(Plan.objects.filter(pk__in=pk_set))
    for plan in plans:
        menus = set(plan.menus.values_list("pk", flat=True)) | (set(pk_set) if not reverse else {instance.pk})
        units = PricingUnit.objects.filter(menus__in=menus).distinct()
        problems = plan_problems(interval=plan.interval, currency=plan.currency, units=units)
        if problems:
            raise ValidationError(problems)


@receiver(m2m_changed, sender=Menu.units.through)
def _menu_units_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action != "pre_add" or not pk_set:
        return
    menus = [instance] if not reverse else list(Menu.objects.filter(pk__in=pk_set))
    for menu in menus:
        added = set(pk_set) if not reverse else {instance.pk}
        units = PricingUnit.objects.filter(pk__in=set(menu.units.values_list("pk", flat=True)) | added)
        problems = menu_problems(menu=menu, units=units)
        if problems:
            raise ValidationError(problems)
