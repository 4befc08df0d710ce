"""Credits and receipts on the billing-information page."""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.models import BILLING_EDIT_ROLES
from accounts.permissions import tenant_view
from billing_portal.common import ratelimit
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import format_money

from .invoice_selectors import invoice_get_by_receipt
from .invoicing import credit_code_redeem
from .receipts import receipt_pdf

# At most this many credit-code attempts per tenant (and per user) in the window: codes cannot be guessed online.
CREDIT_CODE_ATTEMPTS = 5
CREDIT_CODE_WINDOW_SECONDS = 15 * 60


class CreditCodeForm(forms.Form):
    code = forms.CharField(label="Credit code", max_length=40, strip=True)


@tenant_view(BILLING_EDIT_ROLES)
@require_POST
def credit_code_register(request):
    tenant = request.tenant
    form = CreditCodeForm(request.POST)
    target = redirect("billing_information", tenant_slug=tenant.slug)
    if not form.is_valid():
        messages.error(request, "Enter the credit code you received.")
        return target
    allowed = ratelimit.hit(
        f"credit-code:tenant:{tenant.pk}", limit=CREDIT_CODE_ATTEMPTS, window_seconds=CREDIT_CODE_WINDOW_SECONDS
    ) and ratelimit.hit(
        f"credit-code:user:{request.user.pk}", limit=CREDIT_CODE_ATTEMPTS, window_seconds=CREDIT_CODE_WINDOW_SECONDS
    )
    if not allowed:
        messages.error(request, "Too many credit-code attempts. Wait 15 minutes and try again.")
        return target
    try:
        credit = credit_code_redeem(tenant=tenant, code=form.cleaned_data["code"], actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        request.session["credit_code_input"] = form.cleaned_data["code"]
    else:
        messages.success(
            request, f"Credit “{credit.name}” of {format_money(credit.amount_charged, credit.currency)} registered."
        )
    return target


@tenant_view(BILLING_EDIT_ROLES)
def receipt_download(request, receipt_id):
    invoice = invoice_get_by_receipt(tenant=request.tenant, receipt_id=receipt_id)
    if invoice is None:
        raise Http404("No such receipt.")
    response = HttpResponse(receipt_pdf(invoice=invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{invoice.receipt_id}.pdf"'
    return response
