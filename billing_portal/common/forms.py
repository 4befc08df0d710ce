"""Form fields for what people type with a Japanese keyboard: full-width digits, letters and separators are folded
to ASCII (NFKC, `billing_portal.common.text`) before the usual validation, so １２，０００ is 12000 and ＡＢＣＤ is
ABCD. Use them wherever a person types a number or a code (admin amounts, credit and promotion codes)."""

from django import forms

from .text import normalize_typed


def _number_text(value):
    if value in (None, ""):
        return value
    return normalize_typed(value).replace(",", "").replace(" ", "")


class TypedIntegerField(forms.IntegerField):
    """An integer typed in any width, with or without thousands separators (１２，０００ → 12000)."""

    def to_python(self, value):
        return super().to_python(_number_text(value) if isinstance(value, str) else value)


class TypedDecimalField(forms.DecimalField):
    def to_python(self, value):
        return super().to_python(_number_text(value) if isinstance(value, str) else value)


class TypedCharField(forms.CharField):
    """Text folded with NFKC (full-width letters and digits become ASCII; Japanese text is kept)."""

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_typed(value) if value else value
