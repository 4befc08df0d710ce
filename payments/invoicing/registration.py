"""The seller's qualified invoice issuer registration number (適格請求書発行事業者登録番号) and its check digit.

A registration number is "T" followed by 13 digits; for a company the 13 digits are its corporate number (法人番号),
whose first digit is a check digit over the other 12 (財務省令第七十号 第二条): 9 − (Σ Pn × Qn mod 9), Pn the n-th
of the 12 base digits counted from the right, Qn 1 for odd n and 2 for even n.
"""

import re

from django.conf import settings

REGISTRATION_NUMBER_RE = re.compile(r"^T(\d)(\d{12})$")


def check_digit(base: str) -> int:
    """The check digit of a 12-digit base number (法人番号の基礎番号): always 1–9."""
    if not re.fullmatch(r"\d{12}", base):
        raise ValueError("the base number has 12 digits")
    total = sum(int(digit) * (1 if n % 2 else 2) for n, digit in enumerate(reversed(base), start=1))
    return 9 - total % 9


def registration_number_problem(number: str) -> str | None:
    """None when `number` is a well-formed registration number with the right check digit, else what is wrong."""
    match = REGISTRATION_NUMBER_RE.match(number or "")
    if match is None:
        return "it must be T followed by 13 digits, e.g. T1234567890123"
    digit, base = match.groups()
    expected = check_digit(base)
    if int(digit) != expected:
        return f"its check digit (the first of the 13 digits) is {digit}, but {base} gives {expected}"
    return None


def registration_number() -> str:
    """The seller's registration number as printed on documents ("" when not set or not valid)."""
    number = (getattr(settings, "INVOICE_REGISTRATION_NUMBER", "") or "").strip()
    return number if number and registration_number_problem(number) is None else ""
