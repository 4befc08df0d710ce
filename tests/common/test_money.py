from decimal import Decimal

import pytest
from django.template import Context, Template, TemplateSyntaxError

from billing_portal.common.money import format_money, from_major, prorate, round_minor


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0.5"), 1),
        (Decimal("1.5"), 2),
        (Decimal("-0.5"), -1),
        (Decimal("8064.516"), 8065),
        (Decimal("2.4999"), 2),
    ],
)
def test_round_minor_is_half_up(value, expected):
    assert round_minor(value) == expected


def test_round_minor_refuses_floats():
    with pytest.raises(TypeError):
        round_minor(0.1)


def test_prorate_rounds_once_half_up():
    period = 31 * 86400
    remaining = 10 * 86400
    assert prorate(28_000, remaining, period) == 9_032  # 9,032.258…
    assert prorate(3_000, remaining, period) == 968  # 967.741…
    assert prorate(-3_000, remaining, period) == -968


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(24_032, "JPY", "¥24,032"), (-968, "JPY", "-¥968"), (1250, "USD", "$12.50"), (0, "USD", "$0.00")],
)
def test_format_money(amount, currency, shown):
    assert format_money(amount, currency) == shown


def test_from_major_refuses_sub_minor_precision():
    assert from_major("12.34", "USD") == 1234
    assert from_major("500", "JPY") == 500
    with pytest.raises(ValueError):
        from_major("1.5", "JPY")


def test_money_filter_requires_currency():
    assert Template("{% load money %}{{ a|money:c }}").render(Context({"a": 24032, "c": "JPY"})) == "¥24,032"
    with pytest.raises(TemplateSyntaxError):
        Template("{% load money %}{{ a|money:c }}").render(Context({"a": 1, "c": ""}))
