"""Money is an integer amount in minor units plus an ISO 4217 currency.

All arithmetic that can produce fractions goes through `round_minor` (half-up), consumption tax through
`round_tax` (the mode of the INVOICE_TAX_ROUNDING setting), shares of an amount through `allocate`; money is
shown only through `format_money` (the `money` template filter).
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


# INVOICE_TAX_ROUNDING: how the consumption tax of one rate on one invoice is rounded (once per rate per invoice).
TAX_ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "floor": ROUND_FLOOR, "ceil": ROUND_CEILING}


def tax_rounding_mode() -> str:
    from django.conf import settings

    return getattr(settings, "INVOICE_TAX_ROUNDING", "half_up")


def round_tax(value, mode: str | None = None) -> int:
    """Round a tax amount of minor units (a Decimal) to an integer: half_up (half away from zero), floor or ceil
    (towards minus / plus infinity); `mode` defaults to the INVOICE_TAX_ROUNDING setting."""
    if isinstance(value, float):
        raise TypeError("Money must never be a float; pass a Decimal.")
    mode = mode or tax_rounding_mode()
    try:
        rounding = TAX_ROUNDING_MODES[mode]
    except KeyError:
        raise ValueError(
            f"Unknown tax rounding {mode!r}; use one of {', '.join(TAX_ROUNDING_MODES)}"
        ) from None
    return int(Decimal(value).quantize(Decimal(1), rounding=rounding))


def allocate(total: int, weights) -> list[int]:
    """Split the integer `total` in proportion to non-negative integer `weights` (largest remainder: the parts add
    up to `total` exactly; ties go to the earlier weight). All-zero weights: everything on the first."""
    weights = [max(0, int(w)) for w in weights]
    if not weights:
        if total:
            raise ValueError("nothing to allocate to")
        return []
    whole = sum(weights)
    if whole == 0:
        return [total] + [0] * (len(weights) - 1)
    sign = -1 if total < 0 else 1
    magnitude = abs(int(total))
    parts = [magnitude * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(magnitude * weights[i] % whole), i))
    for i in order[: magnitude - sum(parts)]:
        parts[i] += 1
    return [sign * part for part in parts]


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


def format_percent(rate) -> str:
    """Decimal("0.10") → "10%", Decimal("0.08") → "8%"."""
    percent = (Decimal(rate) * 100).normalize()
    return f"{percent:f}%"


def format_money(amount_minor: int, currency: str) -> str:
    """'¥24,032', '-¥968', '$12.50'."""
    exp = exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    major = to_major(abs(int(amount_minor)), currency)
    number = f"{major:,.{exp}f}"
    return f"{sign}{CURRENCY_SYMBOLS[currency]}{number}"
