"""Credits and receipts on the billing-information page."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import BILLING_EDIT_ROLES
from accounts.permissions import tenant_view
from billing_portal.common import ratelimit
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.forms import TypedCharField
from billing_portal.common.money import format_money
from payments.charging import gateway as stripe_gateway
from payments.charging.attempts import payment_refresh_from_stripe
from payments.invoicing.credits import credit_code_redeem
from payments.invoicing.pdf import DocumentNotAvailable, document_kind_of, document_response
from payments.invoicing.receipts import receipt_response
from payments.invoicing.selectors import invoice_get_by_identifier, invoice_get_by_receipt

from .models import Invoice, Payment

# At most this many credit-code attempts per tenant (and per user) in the window: codes cannot be guessed online.
CREDIT_CODE_ATTEMPTS = 5
CREDIT_CODE_WINDOW_SECONDS = 15 * 60


class CreditCodeForm(forms.Form):
    code = TypedCharField(label=gettext_lazy("Credit code"), max_length=40, strip=True)


@tenant_view(BILLING_EDIT_ROLES)
@require_POST
def credit_code_register(request):
    tenant = request.tenant
    form = CreditCodeForm(request.POST)
    target = redirect("billing_information", tenant_slug=tenant.slug)
    if not form.is_valid():
        messages.error(request, _("Enter the credit code you received."))
        return target
    allowed = ratelimit.hit(
        f"credit-code:tenant:{tenant.pk}",
        limit=CREDIT_CODE_ATTEMPTS,
        window_seconds=CREDIT_CODE_WINDOW_SECONDS,
    ) and ratelimit.hit(
        f"credit-code:user:{request.user.pk}",
        limit=CREDIT_CODE_ATTEMPTS,
        window_seconds=CREDIT_CODE_WINDOW_SECONDS,
    )
    if not allowed:
        messages.error(request, _("Too many credit-code attempts. Wait 15 minutes and try again."))
        return target
    try:
        credit = credit_code_redeem(tenant=tenant, code=form.cleaned_data["code"], actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        request.session["credit_code_input"] = form.cleaned_data["code"]
    else:
        messages.success(
            request,
            _("Credit “%(name)s” of %(amount)s registered.")
            % {"name": credit.name, "amount": format_money(credit.amount_charged, credit.currency)},
        )
    return target


@tenant_view(BILLING_EDIT_ROLES)
def receipt_download(request, receipt_id):
    invoice = invoice_get_by_receipt(tenant=request.tenant, receipt_id=receipt_id)
    if invoice is None:
        raise Http404(_("No such receipt."))
    try:
        return receipt_response(invoice=invoice)
    except DocumentNotAvailable as exc:
        raise Http404(exc.message) from None


@tenant_view(BILLING_EDIT_ROLES)
def invoice_download(request, identifier):
    """The invoice (請求書, a qualified invoice) of an issued invoice, or the return invoice of a credit note, as a
    PDF in the tenant's document language; from the moment it is issued."""
    invoice = invoice_get_by_identifier(tenant=request.tenant, identifier=identifier)
    if invoice is None:
        raise Http404(_("No such invoice."))
    return document_response(invoice=invoice, kind=document_kind_of(invoice))


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def invoice_pay(request, receipt_id):
    """Finish a payment the bank wants the customer to confirm (3-D Secure), linked from the failure e-mail."""
    tenant = request.tenant
    invoice = invoice_get_by_receipt(tenant=tenant, receipt_id=receipt_id)
    if invoice is None:
        raise Http404(_("No such invoice."))
    payment = (
        invoice.payments.filter(status=Payment.Status.REQUIRES_ACTION)
        .exclude(stripe_payment_intent_id="")
        .last()
    )
    if request.method == "POST" and payment is not None:
        try:
            payment = payment_refresh_from_stripe(payment=payment)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            if payment.status == Payment.Status.SUCCESSFUL:
                messages.success(
                    request, _("Thank you: invoice %(number)s is paid.") % {"number": invoice.number}
                )
                return redirect("billing_information", tenant_slug=tenant.slug)
            messages.error(
                request,
                _(payment.failure_message)
                if payment.failure_message
                else _("The payment is not complete yet."),
            )
        return redirect("invoice_pay", tenant_slug=tenant.slug, receipt_id=receipt_id)
    client_secret = ""
    if payment is not None and invoice.status != Invoice.Status.SUCCESSFUL:
        try:
            client_secret = stripe_gateway.payment_intent_client_secret(
                payment_intent_id=payment.stripe_payment_intent_id
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return render(
        request,
        "payments/invoice_pay.html",
        {
            "tenant": tenant,
            "invoice": invoice,
            "client_secret": client_secret,
            "stripe_js_url": stripe_gateway.js_url(),
            "stripe_publishable_key": stripe_gateway.publishable_key(),
        },
    )


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def promotion_code_confirm(request):
    """Promotion code from the billing page: GET shows what it gives (nothing changes), POST applies it."""
    from payments.invoicing.discounts import coupon_attach, coupon_check, promotion_code_find

    tenant = request.tenant
    code = (request.POST.get("promotion_code") or request.GET.get("promotion_code") or "").strip()[:40]
    back = redirect("billing_information", tenant_slug=tenant.slug)
    if not code:
        messages.error(request, _("Enter the promotion code you received."))
        return back
    if request.method == "GET" and not (
        ratelimit.hit(
            f"promo:tenant:{tenant.pk}", limit=CREDIT_CODE_ATTEMPTS, window_seconds=CREDIT_CODE_WINDOW_SECONDS
        )
        and ratelimit.hit(
            f"promo:user:{request.user.pk}",
            limit=CREDIT_CODE_ATTEMPTS,
            window_seconds=CREDIT_CODE_WINDOW_SECONDS,
        )
    ):
        messages.error(request, _("Too many promotion-code attempts. Wait 15 minutes and try again."))
        return back
    try:
        coupon = promotion_code_find(code=code)
        from licenses.selectors import license_get

        coupon_check(tenant=tenant, coupon=coupon, plan=license_get(tenant=tenant).plan)
        if request.method == "POST":
            coupon_attach(tenant=tenant, coupon=coupon, source="promotion_code", actor=request.user)
            messages.success(
                request,
                _("Promotion “%(name)s” applied: %(summary)s.")
                % {"name": coupon.name, "summary": coupon.summary},
            )
            return back
    except ApplicationError as exc:
        messages.error(request, exc.message)
        request.session["promotion_code_input"] = code
        return back
    return render(
        request, "payments/promotion_code_confirm.html", {"tenant": tenant, "coupon": coupon, "code": code}
    )


@tenant_view(BILLING_EDIT_ROLES)
@require_POST
def invoice_pay_now(request, receipt_id):
    """ "Pay now" of a failed invoice (dashboard, billing page): charge the current card, or go to 3-D Secure."""
    from payments.charging.collection import invoice_pay_now as pay_now

    tenant = request.tenant
    invoice = invoice_get_by_receipt(tenant=tenant, receipt_id=receipt_id)
    if invoice is None:
        raise Http404(_("No such invoice."))
    try:
        result = pay_now(tenant=tenant, invoice=invoice, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(_back(request, tenant))
    if result["redirect"]:
        messages.info(request, result["message"])
        return redirect(result["redirect"])
    (messages.success if result["outcome"] == "paid" else messages.error)(request, result["message"])
    return redirect(_back(request, tenant))


def _back(request, tenant):
    from django.urls import reverse
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("billing_information", args=[tenant.slug])
