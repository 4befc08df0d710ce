"""Coupons and promotion codes (writes and the one discount calculation).

Order of application on every invoice, documented and tested: **discounts, then credits, then tax**. A discount
is an invoice line of its own ("Discount: <coupon> (…)", negative) computed from the lines it applies to
(license fees, usage, or everything), so credits and tax see the discounted amount.

- Percent off: `round(eligible × percent / 100)`, half-up, once per discount line; on a prorated invoice the
  eligible lines are already prorated, so the discount is too.
- Fixed amount off (bound to a currency): `min(amount, eligible)` on monthly invoices; on an invoice for a
  plan change it is prorated like the plan: `round(amount × fraction of the period left)`.
- Duration, in billing months from the month it was redeemed in (tenant's time zone): `once` (the first invoice it
  discounts), `repeating` N months (invoices dated before the 1st of redemption month + N: "first three
  months free" covers the redemption month and the two after it), `forever`.
- Several discounts never take more than the eligible amount; an invoice never goes below zero, and a 100 %
  discount still issues a ¥0 invoice.
"""

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import round_minor
from payments.models import Coupon, Discount, DiscountApplication

LINE_CATEGORIES = {"license", "support", "usage"}
_ELIGIBLE = {
    Coupon.AppliesTo.LICENSE: {"license"},
    Coupon.AppliesTo.USAGE: {"usage"},
    Coupon.AppliesTo.ALL: LINE_CATEGORIES,
}


def _months_after(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _discount_applies(discount: Discount, billing_date: date, plan) -> bool:
    coupon = discount.coupon
    if billing_date < discount.starts_on.replace(day=1):
        return False
    if coupon.duration == Coupon.Duration.ONCE and discount.used_once:
        return False
    if discount.ends_before is not None and billing_date >= discount.ends_before:
        return False
    restricted = list(coupon.plans.all())
    return not restricted or (plan is not None and plan.pk in {p.pk for p in restricted})


def discount_lines(
    *, tenant, lines: list[dict], billing_date: date, plan, fraction: Decimal | None = None, discounts=None
) -> list[tuple[Discount, dict]]:
    """The discount lines for an invoice of `lines` (each with a `category`), dated `billing_date`, for a tenant on
    `plan`. `fraction`: the part of the period a plan-change invoice covers (fixed amounts are prorated by it).
    Reads only; `discounts` may be given (locked) by the caller."""
    if discounts is None:
        discounts = (
            Discount.objects.filter(tenant=tenant)
            .select_related("coupon")
            .prefetch_related("coupon__plans")
            .order_by("created_at", "pk")
        )
    left = {
        category: sum(line["amount"] for line in lines if line.get("category") == category)
        for category in LINE_CATEGORIES
    }
    result = []
    for discount in discounts:
        coupon = discount.coupon
        if not _discount_applies(discount, billing_date, plan):
            continue
        categories = _ELIGIBLE[coupon.applies_to]
        eligible = sum(max(0, left[c]) for c in categories)
        if eligible <= 0:
            continue
        if coupon.kind == Coupon.Kind.PERCENT:
            amount = round_minor(Decimal(eligible) * coupon.percent_off / 100)
        elif coupon.currency != tenant.currency:
            continue
        else:
            amount = (
                coupon.amount_off if fraction is None else round_minor(Decimal(coupon.amount_off) * fraction)
            )
        amount = min(amount, eligible)
        if amount <= 0:
            continue
        remaining = amount
        for category in sorted(
            categories
        ):  # take it off the categories it applies to, so a second never exceeds
            take = min(remaining, max(0, left[category]))
            left[category] -= take
            remaining -= take
        # Stored in one language whatever the request's (pages show it translated: payments.templatetags.invoice_text).
        with translation.override("en"):
            summary = coupon.summary
        result.append(
            (
                discount,
                {
                    "description": f"Discount: {coupon.name} ({summary})",
                    "amount": -amount,
                    "category": "discount",
                },
            )
        )
    return result


def discounts_record(*, invoice, applied: list[tuple[Discount, dict]]) -> None:
    """Within the issuing transaction: which discount gave which line; a `once` discount is used up."""
    for discount, line in applied:
        DiscountApplication.objects.create(invoice=invoice, discount=discount, amount=-line["amount"])
        if discount.coupon.duration == Coupon.Duration.ONCE:
            Discount.objects.filter(pk=discount.pk).update(used_once=True)


# --- attaching coupons -----------------------------------------------------------------------------------------


def normalise_promotion_code(raw: str) -> str:
    """Full-width letters and digits (ＷＥＬＣＯＭＥ２０２６) are the same code; spaces and other marks are dropped."""
    from billing_portal.common.text import normalize_typed

    return "".join(ch for ch in normalize_typed(raw or "").upper() if ch.isalnum() or ch in "-_")


def promotion_code_find(*, code: str) -> Coupon:
    """The coupon of a promotion code a tenant typed, or a readable error (nothing changes)."""
    normalised = normalise_promotion_code(code)
    coupon = Coupon.objects.filter(promotion_code=normalised, active=True).first() if normalised else None
    if coupon is None:
        raise ApplicationError(
            _("This promotion code is not valid."),
            code="promotion_code_invalid",
            extra={"field": "promotion_code"},
        )
    return coupon


def coupon_check(*, tenant, coupon: Coupon, plan=None, at=None) -> None:
    """Why `coupon` cannot be attached to `tenant` now (ApplicationError), for the page and the service alike."""
    at = at or clock.now()
    problem = None
    if not coupon.active:
        problem = _("This promotion code is no longer offered.")
    elif coupon.redeem_by and coupon.redeem_by <= at:
        problem = _("This promotion code has expired.")
    elif coupon.redemption_limit is not None and coupon.redeemed_count >= coupon.redemption_limit:
        problem = _("This promotion code has been used up.")
    elif coupon.kind == Coupon.Kind.AMOUNT and coupon.currency != tenant.currency:
        problem = _(
            "This promotion code is for %(code_currency)s accounts; you are billed in %(currency)s."
        ) % {"code_currency": coupon.currency, "currency": tenant.currency}
    elif Discount.objects.filter(tenant=tenant, coupon=coupon).exists():
        problem = _("You have already used this promotion code.")
    else:
        restricted = list(coupon.plans.all())
        if restricted and (plan is None or plan.pk not in {p.pk for p in restricted}):
            names = ", ".join(sorted({p.name for p in restricted}))
            problem = _("This promotion code is only for the %(plans)s license.") % {"plans": names}
    if problem:
        raise ApplicationError(problem, code="promotion_code_unavailable", extra={"field": "promotion_code"})


def coupon_attach(*, tenant, coupon: Coupon, source: str, plan=None, actor=None) -> Discount:
    """Attach a coupon to a tenant (ops in admin, or the tenant's promotion code), once per tenant and coupon,
    within its redemption limit under concurrency (the coupon row is locked). `plan`: the plan the discount is
    for (the current one, or the one being bought)."""
    from zoneinfo import ZoneInfo

    with transaction.atomic():
        coupon = Coupon.objects.select_for_update().get(pk=coupon.pk)
        if plan is None:
            from licenses.selectors import license_get

            current = license_get(tenant=tenant)
            plan = current.plan if current else None
        coupon_check(tenant=tenant, coupon=coupon, plan=plan)
        now = clock.now()
        starts_on = now.astimezone(ZoneInfo(tenant.time_zone)).date()
        ends_before = (
            _months_after(starts_on, coupon.duration_months)
            if coupon.duration == Coupon.Duration.REPEATING
            else None
        )
        try:
            with transaction.atomic():
                discount = Discount.objects.create(
                    tenant=tenant,
                    coupon=coupon,
                    source=source,
                    starts_on=starts_on,
                    ends_before=ends_before,
                    created_by=actor,
                )
        except IntegrityError:
            raise ApplicationError(
                _("You have already used this promotion code."),
                code="promotion_code_unavailable",
                extra={"field": "promotion_code"},
            ) from None
        Coupon.objects.filter(pk=coupon.pk).update(redeemed_count=F("redeemed_count") + 1)
        audit_record(
            action="discount.attached",
            tenant=tenant,
            actor=actor,
            data={"coupon": coupon.name, "summary": coupon.summary, "source": source},
        )
    return discount


def discount_preview(
    *, tenant, coupon: Coupon, lines: list[dict], plan, fraction: Decimal | None = None
) -> int:
    """What `coupon` would take off an invoice of `lines` today, before anything is attached (confirmation pages)."""
    from zoneinfo import ZoneInfo

    today = clock.now().astimezone(ZoneInfo(tenant.time_zone)).date()
    trial = Discount(tenant=tenant, coupon=coupon, source=Discount.Source.PROMOTION_CODE, starts_on=today)
    applied = discount_lines(
        tenant=tenant, lines=lines, billing_date=today, plan=plan, fraction=fraction, discounts=[trial]
    )
    return -sum(line["amount"] for _discount, line in applied)
