import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import Role, Tenant
from .selectors import tenant_member_users


class SignupForm(forms.Form):
    """Extra sign-up fields; allauth calls `signup()` after creating the user."""

    name = forms.CharField(label=_("Your name"), max_length=150)
    organisation = forms.CharField(label=_("Organisation (customer) name"), max_length=200, required=False)

    field_order = ["name", "organisation", "email", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self._joining_by_invitation():
            self.fields["organisation"].help_text = _("Leave empty: you are joining the organisation that invited you.")

    def _joining_by_invitation(self) -> bool:
        next_url = self.data.get("next") or self.initial.get("next") or ""
        return next_url.startswith("/invitations/")

    def clean_organisation(self):
        organisation = self.cleaned_data["organisation"].strip()
        if not organisation and not self._joining_by_invitation():
            raise ValidationError(_("This field is required."), code="required")
        return organisation

    def signup(self, request, user):
        from .services import tenant_create

        user.name = self.cleaned_data["name"]
        user.save(update_fields=["name"])
        if self.cleaned_data["organisation"]:
            tenant_create(owner=user, name=self.cleaned_data["organisation"])


PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,38}$")


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "address", "phone", "country"]
        labels = {"name": _("Customer name"), "address": _("Customer address"), "phone": _("Customer phone number")}
        help_texts = {"country": _("Two-letter country code, e.g. JP or US. Invoice payment needs JP.")}
        error_messages = {"country": {"max_length": _("Enter a two-letter country code such as JP or US.")}}

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        if phone and not PHONE_RE.match(phone):
            raise ValidationError(_("Enter a phone number with digits, spaces, +, - or parentheses (e.g. +81 3-1234-5678)."))
        return phone

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ValidationError(_("Enter a two-letter country code such as JP or US."))
        return country


class MemberChoiceForm(forms.Form):
    """Pick a member of the tenant (representative, payment administrator)."""

    user = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, tenant, label, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = tenant_member_users(tenant=tenant)
        self.fields["user"].label = label
        self.fields["user"].label_from_instance = lambda u: f"{u.display_name} <{u.email}>"


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
