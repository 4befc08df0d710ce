from django import forms
from django.utils.translation import gettext_lazy as _

from billing_portal.common.api import parse_month
from billing_portal.common.exceptions import ApplicationError


class MauAlertSettingForm(forms.Form):
    notify_representative = forms.BooleanField(
        label=_("Notify representative"),
        required=False,
        help_text=_("E-mail the representative once a month when the MAU reaches the threshold."),
    )
    threshold = forms.IntegerField(
        label=_("MAU threshold"), required=False, min_value=1, max_value=2_147_483_647
    )


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Key name"), max_length=100, help_text=_("Where the key is used, e.g. “login service”.")
    )


BAD_MONTH = _("Enter a month as YYYY-MM, e.g. 2026-11.")


class MauEvidenceForm(forms.Form):
    month = forms.CharField(
        label=_("Month"),
        error_messages={"required": BAD_MONTH, "max_length": BAD_MONTH},
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        help_text=_("The month whose counted users are listed (YYYY-MM, in the tenant's time zone)."),
    )

    def clean_month(self):
        try:
            return parse_month(self.cleaned_data["month"])
        except ApplicationError:
            raise forms.ValidationError(BAD_MONTH, code="bad_month") from None
