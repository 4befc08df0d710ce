from django import forms
from django.utils.translation import gettext_lazy as _


class RelyingPartyForm(forms.Form):
    rp_id = forms.CharField(label=_("RP ID"), max_length=255, help_text=_("e.g. login.example.com"))
    name = forms.CharField(label=_("Name"), max_length=200, required=False)


class EndUserForm(forms.Form):
    user_id = forms.CharField(label=_("User ID"), max_length=255)
    display_name = forms.CharField(label=_("Display name"), max_length=200, required=False)
