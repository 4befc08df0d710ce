from django import forms
from django.utils.translation import gettext_lazy as _

from .models import PaymentMethodType


class PaymentAccountForm(forms.Form):
    name = forms.CharField(label=_("Payer name"), max_length=200)
    email = forms.EmailField(
        label=_("Payer e-mail address"), help_text=_("Receipts and payment notices from Stripe go here.")
    )


class PaymentMethodChoiceForm(forms.Form):
    method = forms.ChoiceField(
        label=_("Payment method"), choices=PaymentMethodType.choices, widget=forms.RadioSelect
    )
    billing_address = forms.CharField(
        label=_("Billing address"),
        max_length=300,
        required=False,
        help_text=_("Required for invoice payment (bank transfer); printed on invoices."),
    )

    def __init__(self, *args, bank_transfer_reason="", **kwargs):
        super().__init__(*args, **kwargs)
        self.bank_transfer_reason = bank_transfer_reason

    def clean(self):
        data = super().clean()
        if data.get("method") == PaymentMethodType.BANK_TRANSFER:
            if self.bank_transfer_reason:
                self.add_error("method", self.bank_transfer_reason)
            elif not (data.get("billing_address") or "").strip():
                self.add_error("billing_address", _("Invoice payment needs a billing address."))
        return data


class TransferPayerNameForm(forms.Form):
    payer_name = forms.CharField(
        label=_("Payer name (as printed by the bank)"),
        max_length=100,
        required=False,
        help_text=_(
            "The name your bank shows us on your transfers (振込名義), e.g. ｶ)ｱｸﾒ. Kana and letters, full- "
            "or half-width; it is saved in the half-width form banks use."
        ),
    )
