"""What people type, as the portal stores it.

Japanese keyboards type full-width digits and letters (０３－１２３４－５６７８, ＡＢＣＤ１２３４) and the ideographic
space; `normalize_typed` folds them to their ASCII forms with Unicode NFKC, the one normalisation every form uses
for phone numbers, postal codes, credit and promotion codes and amounts. Japanese text itself is kept (NFKC leaves
kanji and full-width katakana alone; half-width katakana become full-width).
"""

import unicodedata

from django.utils.functional import Promise, lazy

# Dashes people type between digit groups (full-width hyphen-minus is folded by NFKC already): the katakana
# prolonged sound mark ー, the minus sign, en/em dashes, the horizontal bar and the hyphen.
_DASHES = str.maketrans({c: "-" for c in "ー−–—―‐‑"})


def normalize_typed(value):
    """NFKC, surrounding whitespace stripped; None stays None."""
    if value is None:
        return None
    return unicodedata.normalize("NFKC", str(value)).strip()


def normalize_digits(value):
    """For digit groups (phone numbers, postal codes): NFKC plus the dashes Japanese input methods produce."""
    value = normalize_typed(value)
    return value.translate(_DASHES) if value is not None else None


def _interpolate(message, params) -> str:
    return str(message % params)  # a lazy ngettext picks its plural form from params


# `lazy_interpolate(gettext_lazy("%(count)s RPs are registered"), {"count": 3})`: a message rendered (translated,
# then filled in) only when shown, so that one built in a request or a task reads in each e-mail recipient's
# language. Store `str(...)` of it where JSON is written (audit entries, webhooks).
lazy_interpolate = lazy(_interpolate, str)


def plain(value):
    """`value` with every lazy text rendered in the current language (for JSON: audit data, webhook payloads)."""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
