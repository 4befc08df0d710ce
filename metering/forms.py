from django import forms


class MauAlertSettingForm(forms.Form):
    notify_representative = forms.BooleanField(
        label="Notify representative", required=False,
        help_text="E-mail the representative once a month when the MAU reaches the threshold.",
    )
    threshold = forms.IntegerField(label="MAU threshold", required=False, min_value=1, max_value=2_147_483_647)


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(label="Key name", max_length=100, help_text="Where the key is used, e.g. “login service”.")
