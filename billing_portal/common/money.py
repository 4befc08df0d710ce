"""Money is an integer amount in minor units plus an ISO 4217 currency.

All arithmetic that can produce fractions goes through `round_minor`, the one rounding function
(half-up), and money is shown only through `format_money` (the `money` template filter).
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

# Minor-unit exponent per supported currency (JPY is zero-decimal, USD has cents).
CURRENCY_EXPONENTS = {"JPY": 0, "USD": 2}
CURRENCY_SYMBOLS = {"JPY": "¥", "USD": "$"}
CURRENCY_CHOICES = [("JPY", "JPY (¥)"), ("USD", "USD ($)")]


class UnknownCurrency(ValueError):
    pass


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(f"Unsupported currency {currency!r}") from None


def round_minor(value) -> int:
    """Round a Decimal (or int / numeric string) amount of minor units to an integer, half away from zero."""
    if isinstance(value, float):
        raise TypeError("Money must never be a float; pass a Decimal.")
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def prorate(amount_minor: int, numerator: int, denominator: int) -> int:
    """`amount × numerator / denominator`, rounded once. Used for proration by the second."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return round_minor(Decimal(amount_minor) * Decimal(numerator) / Decimal(denominator))


def to_major(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-exponent(currency))


def from_major(amount, currency: str) -> int:
    """Parse a major-unit amount ("12.34" USD → 1234) exactly; refuses sub-minor precision."""
    value = Decimal(str(amount)).scaleb(exponent(currency))
    if value != value.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(value)


def from_major_bound(amount, currency: str, *, lower: bool) -> int:
    """A search bound typed in major units as minor units, rounded outward (a lower bound up, an upper bound
    down: ¥1,100.5 or more is ¥1,101 or more), so that a range never drops a matching amount."""
    value = Decimal(str(amount)).scaleb(exponent(currency))
    return int(value.to_integral_value(rounding=ROUND_CEILING if lower else ROUND_FLOOR))


def format_money(amount_minor: int, currency: str) -> str:
    """'¥24,032', '-¥968', '$12.50'."""
    exp = exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    major = to_major(abs(int(amount_minor)), currency)
    number = f"{major:,.{exp}f}"
    return f"{sign}{CURRENCY_SYMBOLS[currency]}{number}"
