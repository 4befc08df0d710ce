from django import forms
from django.utils.translation import gettext_lazy as _


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
