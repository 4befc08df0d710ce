"""The pricing engine: pure functions from a plan (or unit) and a period's usage to invoice lines.

A line is a dict: description, quantity, unit_amount, amount_minor, currency. Zero-amount lines are kept so an
invoice always shows every unit of the plan. No database writes happen here; the invoicing issue calls
`plan_invoice_lines` and copies the lines into its own rows.
"""

from dataclasses import dataclass
from decimal import Decimal

from billing_portal.common.money import prorate, round_minor

from .models import PricingUnit


def _line(*, description, quantity, unit_amount, amount_minor, currency, tax_category="standard") -> dict:
    line = {
        "description": description,
        "quantity": int(quantity),
        "unit_amount": int(unit_amount),
        "amount_minor": int(amount_minor),
        "currency": currency,
    }
    if tax_category != "standard":  # the reduced rate (8%); lines without the key are at the standard rate
        line["tax_category"] = tax_category
    return line


def tier_for(tiers, quantity: int):
    """The tier `quantity` falls into: the first with quantity ≤ up_to, else the infinite (or last) tier."""
    tiers = sorted(tiers, key=lambda t: (t.up_to is None, t.up_to or 0))
    if not tiers:
        return None
    for tier in tiers:
        if tier.up_to is None or quantity <= tier.up_to:
            return tier
    return tiers[-1]


def unit_line(unit: PricingUnit, quantity: int = 0, *, tiers=None) -> dict:
    """The invoice line of one pricing unit for `quantity` used in the period (ignored for fixed units)."""
    quantity = max(0, int(quantity))
    tiers = list(unit.tiers.all()) if tiers is None else list(tiers)
    name = unit.display_name
    if unit.type == PricingUnit.Type.FIXED:
        return _line(
            description=name,
            quantity=1,
            unit_amount=unit.unit_amount,
            amount_minor=unit.unit_amount,
            currency=unit.currency,
            tax_category=unit.tax_category,
        )
    if unit.type == PricingUnit.Type.USAGE:
        amount = round_minor(Decimal(unit.unit_amount) * quantity)
        return _line(
            description=name,
            quantity=quantity,
            unit_amount=unit.unit_amount,
            amount_minor=amount,
            currency=unit.currency,
            tax_category=unit.tax_category,
        )
    tier = tier_for(tiers, quantity)
    if unit.type == PricingUnit.Type.TIERED:
        # Flat amount of the tier the quantity reached.
        flat = tier.flat_amount if tier else 0
        return _line(
            description=f"{name} ({_tier_label(tier)})",
            quantity=quantity,
            unit_amount=flat,
            amount_minor=flat,
            currency=unit.currency,
            tax_category=unit.tax_category,
        )
    if unit.type == PricingUnit.Type.TIERED_USAGE:
        # Volume pricing: the tier reached sets the unit price of every unit, plus its flat amount.
        unit_amount = tier.unit_amount if tier else 0
        flat = tier.flat_amount if tier else 0
        amount = round_minor(Decimal(unit_amount) * quantity) + flat
        return _line(
            description=f"{name} ({_tier_label(tier)})",
            quantity=quantity,
            unit_amount=unit_amount,
            amount_minor=amount,
            currency=unit.currency,
            tax_category=unit.tax_category,
        )
    raise ValueError(f"Unknown pricing unit type {unit.type!r}")


def _tier_label(tier) -> str:
    if tier is None:
        return "no tiers"
    return "up to ∞" if tier.up_to is None else f"up to {tier.up_to:,}"


def plan_units(plan):
    """The plan's pricing units, in menu order, each once (kept on a plan whose menus were prefetched, as the
    billing cycle's cached plans are: the set-based run prices thousands of invoices with one plan)."""
    prefetched = getattr(plan, "_prefetched_objects_cache", {})
    if "menus" in prefetched:
        cached = prefetched.get("_plan_units")
        if cached is None:
            cached = prefetched["_plan_units"] = _plan_units(plan)
        return cached
    return _plan_units(plan)


def _plan_units(plan):
    seen, units = set(), []
    for menu in plan.menus.all():
        for unit in menu.units.all():
            if unit.pk not in seen:
                seen.add(unit.pk)
                units.append(unit)
    return units


def plan_fixed_amount(plan) -> int:
    """The plan's fixed fee per period (sum of its fixed units), used for proration."""
    return sum(u.unit_amount for u in plan_units(plan) if u.type == PricingUnit.Type.FIXED)


def plan_invoice_lines(
    plan, *, usage: dict | None = None, mau: int = 0, fixed: bool = True, metered: bool = True
):
    """Invoice lines of a plan for one period.

    `usage` maps a metering unit's `unit_name` to the quantity used in the period; `mau` is the period's MAU,
    which adds an overage line when the plan has a maximum MAU. `fixed` / `metered` select the fixed fees (billed
    for the new period) and the usage lines (billed for the last period).
    """
    usage = usage or {}
    lines = []
    for unit in plan_units(plan):
        if unit.type == PricingUnit.Type.FIXED:
            if fixed:
                lines.append(unit_line(unit))
        elif metered:
            key = unit.metering_unit.unit_name if unit.metering_unit_id else unit.unit_name
            lines.append(unit_line(unit, usage.get(key, 0)))
    if metered and plan.max_mau is not None and plan.mau_overage_unit_amount:
        over = max(0, int(mau) - plan.max_mau)
        lines.append(
            _line(
                description=f"MAU overage (above {plan.max_mau:,} MAU)",
                quantity=over,
                unit_amount=plan.mau_overage_unit_amount,
                amount_minor=round_minor(Decimal(plan.mau_overage_unit_amount) * over),
                currency=plan.currency,
            )
        )
    return lines


@dataclass(frozen=True)
class Proration:
    """The proration lines of a plan change: unused + remaining == difference, exactly."""

    unused: int  # negative: the unused time of the old plan
    remaining: int  # positive: the remaining time on the new plan
    difference: int  # what the customer pays (positive) or is credited (negative)


def proration(*, old_amount: int, new_amount: int, remaining_seconds: int, period_seconds: int) -> Proration:
    """Proration by the second, one half-up rounding per line (DESIGN.md "Money and time").

    remaining = round(new × r / p); difference = round((new − old) × r / p); unused = difference − remaining.
    Reference: ¥25,000 → ¥28,000 with 10 of 31 days left gives −8,064 / +9,032 / +968.
    """
    if not 0 <= remaining_seconds <= period_seconds:
        raise ValueError("the change must be inside the period")
    remaining = prorate(new_amount, remaining_seconds, period_seconds)
    difference = prorate(new_amount - old_amount, remaining_seconds, period_seconds)
    return Proration(unused=difference - remaining, remaining=remaining, difference=difference)
