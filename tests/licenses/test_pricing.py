"""The pricing engine: each unit type, tier edges, both currencies; proration reference and property."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licenses.models import PricingTier, PricingUnit
from licenses.pricing import plan_fixed_amount, plan_invoice_lines, proration, unit_line
from licenses.selectors import plan_get


def unit(type_, currency="JPY", unit_amount=0, tiers=()):
    u = PricingUnit(
        unit_name=f"u-{type_}",
        display_name=f"Unit {type_}",
        type=type_,
        currency=currency,
        unit_amount=unit_amount,
    )
    return u, [PricingTier(up_to=up, unit_amount=ua, flat_amount=fa) for up, ua, fa in tiers]


TIERS = [(100, 10, 1_000), (1_000, 8, 5_000), (None, 5, 20_000)]


def test_fixed_unit_is_one_line_of_its_price():
    u, _ = unit("fixed", unit_amount=25_000)
    assert unit_line(u, tiers=[]) == {
        "description": "Unit fixed",
        "quantity": 1,
        "unit_amount": 25_000,
        "amount_minor": 25_000,
        "currency": "JPY",
    }


@pytest.mark.parametrize(
    ("currency", "price", "qty", "expected"),
    [
        ("JPY", 3, 1_234, 3_702),
        ("USD", 15, 1_234, 18_510),  # 15 cents each → $185.10
        ("USD", 15, 0, 0),  # zero-amount line kept
    ],
)
def test_usage_unit_multiplies(currency, price, qty, expected):
    u, _ = unit("usage", currency=currency, unit_amount=price)
    line = unit_line(u, qty, tiers=[])
    assert (line["quantity"], line["amount_minor"], line["currency"]) == (qty, expected, currency)


@pytest.mark.parametrize(
    ("qty", "flat"),
    [
        (0, 1_000),
        (100, 1_000),  # exactly at up_to stays in the tier
        (101, 5_000),
        (1_000, 5_000),
        (1_001, 20_000),
        (10**9, 20_000),  # infinite tier
    ],
)
def test_tiered_unit_charges_the_flat_amount_of_the_tier_reached(qty, flat):
    u, tiers = unit("tiered", tiers=TIERS)
    line = unit_line(u, qty, tiers=tiers)
    assert line["amount_minor"] == flat
    assert line["quantity"] == qty


@pytest.mark.parametrize(
    ("qty", "unit_price", "amount"),
    [
        (100, 10, 100 * 10 + 1_000),
        (101, 8, 101 * 8 + 5_000),  # one above up_to: every unit at the next tier's price
        (1_000, 8, 1_000 * 8 + 5_000),
        (1_001, 5, 1_001 * 5 + 20_000),
    ],
)
def test_tiered_usage_unit_prices_every_unit_at_the_tier_reached(qty, unit_price, amount):
    u, tiers = unit("tiered_usage", currency="USD", tiers=TIERS)
    line = unit_line(u, qty, tiers=tiers)
    assert (line["unit_amount"], line["amount_minor"], line["currency"]) == (unit_price, amount, "USD")
    assert "up to" in line["description"]


@pytest.mark.django_db
@pytest.mark.parametrize(("currency", "fee"), [("JPY", 28_000), ("USD", 28_000)])
def test_seeded_plan_lines_keep_zero_mau_overage(currency, fee):
    plan = plan_get(code="business", currency=currency)
    lines = plan_invoice_lines(plan, usage={}, mau=0)
    assert [(line["description"], line["amount_minor"]) for line in lines] == [
        ("Business license fee", fee),
        ("MAU overage (above 10,000 MAU)", 0),
    ]
    assert all(line["currency"] == currency for line in lines)


@pytest.mark.django_db
def test_mau_overage_line_charges_each_mau_above_the_maximum():
    plan = plan_get(code="starter", currency="JPY")  # max 1,000 MAU, ¥30 each above
    overage = plan_invoice_lines(plan, mau=1_250, fixed=False)
    assert overage == [
        {
            "description": "MAU overage (above 1,000 MAU)",
            "quantity": 250,
            "unit_amount": 30,
            "amount_minor": 7_500,
            "currency": "JPY",
        }
    ]


@pytest.mark.django_db
def test_seeded_catalogue_prices_and_support_plan():
    from licenses.models import Plan

    assert [
        plan_fixed_amount(plan_get(code=c, currency="JPY"))
        for c in ("free", "starter", "business", "enterprise")
    ] == [0, 25_000, 28_000, 150_000]
    for currency, fees in (("JPY", [20_000, 50_000]), ("USD", [15_000, 40_000])):
        support = Plan.objects.filter(category="support", currency=currency).order_by("sort_order")
        assert [(p.code, plan_fixed_amount(p)) for p in support] == list(
            zip(["standard-support", "premium-support"], fees, strict=True)
        )


def test_reference_proration_upgrade_and_reverse_downgrade():
    month, ten_days = 31 * 86_400, 10 * 86_400
    up = proration(old_amount=25_000, new_amount=28_000, remaining_seconds=ten_days, period_seconds=month)
    assert (up.unused, up.remaining, up.difference) == (-8_064, 9_032, 968)
    down = proration(old_amount=28_000, new_amount=25_000, remaining_seconds=ten_days, period_seconds=month)
    assert down.difference == -968
    assert down.unused + down.remaining == -968


def test_proration_outside_the_period_is_refused():
    with pytest.raises(ValueError):
        proration(old_amount=1, new_amount=2, remaining_seconds=11, period_seconds=10)


@given(
    old=st.integers(min_value=0, max_value=10**9),
    new=st.integers(min_value=0, max_value=10**9),
    period=st.sampled_from([28, 29, 30, 31, 365]).map(lambda d: d * 86_400),
    data=st.data(),
)
def test_property_lines_sum_to_difference_and_stay_within_one_minor_unit(old, new, period, data):
    remaining = data.draw(st.integers(min_value=0, max_value=period))
    p = proration(old_amount=old, new_amount=new, remaining_seconds=remaining, period_seconds=period)
    exact = {
        "unused": -Decimal(old) * remaining / period,
        "remaining": Decimal(new) * remaining / period,
        "difference": Decimal(new - old) * remaining / period,
    }
    assert p.unused + p.remaining == p.difference
    assert abs(p.remaining - exact["remaining"]) <= Decimal("0.5")
    assert abs(p.difference - exact["difference"]) <= Decimal("0.5")
    assert abs(p.unused - exact["unused"]) <= 1
