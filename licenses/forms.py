from django import forms


class RelyingPartyForm(forms.Form):
    rp_id = forms.CharField(label="RP ID", max_length=255, help_text="e.g. login.example.com")
    name = forms.CharField(label="Name", max_length=200, required=False)


class EndUserForm(forms.Form):
    user_id = forms.CharField(label="User ID", max_length=255)
    display_name = forms.CharField(label="Display name", max_length=200, required=False)
