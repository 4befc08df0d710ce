import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from billing_portal.common.addresses import PREFECTURE_CHOICES, normalize_postal_code
from billing_portal.common.text import normalize_digits, normalize_typed

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
            self.fields["organisation"].help_text = _(
                "Leave empty: you are joining the organisation that invited you."
            )

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


class _CustomerFieldsCleaning:
    """Full-width digits and letters (０３－１２３４－５６７８, 〒１００－０００５, ｊｐ) are accepted and stored in ASCII
    (NFKC); for the portal's customer form and Django admin's."""

    def _relax_postal_code(self):
        # "〒100-0005" is longer than what is stored ("100-0005"): the length is checked after normalising.
        if "postal_code" in self.fields:
            postal_code = self.fields["postal_code"]
            postal_code.max_length, postal_code.validators = None, []
            postal_code.widget.attrs.pop("maxlength", None)

    def clean_postal_code(self):
        postal_code = normalize_postal_code(self.cleaned_data["postal_code"])
        if postal_code is None:
            raise ValidationError(_("Enter the postal code as 7 digits, e.g. 100-0005."))
        return postal_code

    def clean_phone(self):
        phone = normalize_digits(self.cleaned_data["phone"])
        if phone and not PHONE_RE.match(phone):
            raise ValidationError(
                _("Enter a phone number with digits, spaces, +, - or parentheses (e.g. +81 3-1234-5678).")
            )
        return phone

    def clean_country(self):
        country = normalize_typed(self.cleaned_data["country"]).upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ValidationError(_("Enter a two-letter country code such as JP or US."))
        return country


class TenantAdminForm(_CustomerFieldsCleaning, forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._relax_postal_code()


class CustomerForm(_CustomerFieldsCleaning, forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "postal_code", "prefecture", "address", "phone", "country", "document_language"]
        labels = {
            "document_language": _("Document language"),
            "name": _("Customer name"),
            "postal_code": _("Postal code"),
            "prefecture": _("Prefecture"),
            "address": _("Customer address"),
            "phone": _("Customer phone number"),
        }
        help_texts = {
            "country": _("Two-letter country code, e.g. JP or US. Invoice payment needs JP."),
            "postal_code": _("7 digits, e.g. 100-0005 (Japan)."),
            "address": _("City, street and building (after the prefecture)."),
            "document_language": _("The language of your invoices, receipts and credit notes (PDF)."),
        }
        error_messages = {"country": {"max_length": _("Enter a two-letter country code such as JP or US.")}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["prefecture"].choices = [("", _("— (outside Japan)")), *PREFECTURE_CHOICES]
        self._relax_postal_code()
        # Not sent (an older form, a script): the document language stays as it is.
        self.fields["document_language"].required = False

    def clean_document_language(self):
        return self.cleaned_data.get("document_language") or self.instance.document_language or "ja"


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
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
