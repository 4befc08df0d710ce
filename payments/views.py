"""Payment pages: thin views over payments.services / payments.selectors."""

import secrets

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import BILLING_EDIT_ROLES, BILLING_VIEW_ROLES
from accounts.permissions import tenant_view
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.page_actions import perform
from payments.charging import cards, customers, selectors
from payments.charging import gateway as stripe_gateway
from payments.charging.collection import open_invoices
from payments.invoicing import late_usage
from payments.invoicing.billing_details import billing_details, months_for_selection
from payments.invoicing.selectors import credit_history, discounts_active, invoice_list

from .forms import PaymentAccountForm, PaymentMethodChoiceForm, TransferPayerNameForm


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def payment_account_create(request):
    tenant = request.tenant
    if selectors.payment_account_get(tenant=tenant):
        return redirect("billing_dashboard", tenant_slug=tenant.slug)
    form = PaymentAccountForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and perform(
            request,
            lambda: customers.payment_account_create(tenant=tenant, **form.cleaned_data),
            form=form,
            success=_("Payment account created."),
        ).ok
    ):
        return redirect("billing_dashboard", tenant_slug=tenant.slug)
    return render(request, "payments/payment_account_create.html", {"tenant": tenant, "form": form})


@tenant_view(BILLING_EDIT_ROLES)
@require_POST
def customer_portal(request):
    """ "Check payment information (Stripe)": a Stripe customer-portal session (or the stand-in page)."""
    tenant = request.tenant
    return_url = request.build_absolute_uri(reverse("billing_dashboard", kwargs={"tenant_slug": tenant.slug}))
    outcome = perform(request, lambda: customers.customer_portal_url(tenant=tenant, return_url=return_url))
    return redirect(outcome.result if outcome.ok else reverse("billing_dashboard", args=[tenant.slug]))


@tenant_view(BILLING_EDIT_ROLES)
def stripe_portal_standin(request):
    """Local substitute for Stripe's customer portal; exists only while talking to the stand-in."""
    if not stripe_gateway.is_standin():
        raise Http404(_("Only available with the local Stripe stand-in."))
    tenant = request.tenant
    account = selectors.payment_account_get(tenant=tenant)
    customer, error = None, ""
    if account is not None:
        try:
            customer = stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)
        except ApplicationError as exc:
            error = exc.message
    return render(
        request,
        "payments/stripe_portal_standin.html",
        {
            "tenant": tenant,
            "account": account,
            "customer": customer,
            "error": error,
            **selectors.payment_management(tenant=tenant),
        },
    )


def _billing_information_context(request, *, method_form=None, payer_name_form=None) -> dict:
    """Everything the billing-information page shows: billing details, credits, payment history, payment
    management. `method_form` replaces the payment-method form (to show its errors)."""
    tenant = request.tenant
    months = months_for_selection(tenant=tenant)
    year, month = months[0]
    chosen = request.GET.get("period", "")
    if chosen:
        try:
            year, month = (int(part) for part in chosen.split("-"))
            if (year, month) not in months:
                raise ValueError
        except ValueError:
            messages.error(request, _("Choose one of the listed months."))
            year, month = months[0]
    context = {
        "tenant": tenant,
        "details": billing_details(tenant=tenant, year=year, month=month),
        "detail_months": months,
        **selectors.payment_management(tenant=tenant),
        **credit_history(tenant=tenant),
        "invoices": invoice_list(tenant=tenant),
        "open_invoices": open_invoices(tenant=tenant),
        "late_grace_hours": late_usage.grace().seconds // 3600 + late_usage.grace().days * 24,
        "credit_code_input": request.session.pop("credit_code_input", ""),
        "discounts": discounts_active(tenant=tenant),
        "promotion_code_input": request.session.pop("promotion_code_input", ""),
    }
    settings_ = context["payment_settings"]
    if settings_.method == "bank_transfer":
        from payments.invoicing.transfers import open_transfer_invoices, transfer_details

        context["transfer"] = transfer_details(tenant=tenant)
        context["transfer_open"] = open_transfer_invoices(tenant=tenant)
        context["payer_name_form"] = payer_name_form or TransferPayerNameForm(
            initial={"payer_name": context["transfer"]["payer_name"]}
        )
    context["method_form"] = method_form or PaymentMethodChoiceForm(
        initial={
            "method": settings_.method,
            "billing_address": settings_.billing_address or tenant.postal_address,
        },
        bank_transfer_reason=context["bank_transfer_reason"],
    )
    return context


@tenant_view(BILLING_VIEW_ROLES)
def billing_information(request):
    return render(request, "payments/billing_information.html", _billing_information_context(request))


@tenant_view(BILLING_EDIT_ROLES)
def card_register(request):
    tenant = request.tenant
    if selectors.payment_account_get(tenant=tenant) is None:
        messages.error(request, _("Create a payment account first."))
        return redirect("billing_dashboard", tenant_slug=tenant.slug)
    return render(
        request,
        "payments/card_register.html",
        {
            "tenant": tenant,
            "stripe_js_url": stripe_gateway.js_url(),
            "stripe_publishable_key": stripe_gateway.publishable_key(),
            "attempt": secrets.token_hex(8),
            "default_card": selectors.payment_method_default(tenant=tenant),
        },
    )


@tenant_view(BILLING_EDIT_ROLES)
@require_POST
def card_setup_intent(request):
    """JSON for Stripe Elements: the SetupIntent's client secret (never card data)."""
    attempt = (request.POST.get("attempt") or "")[:32] or secrets.token_hex(8)
    try:
        intent = cards.card_setup_start(tenant=request.tenant, attempt=attempt)
    except ApplicationError as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)
    return JsonResponse({"client_secret": intent["client_secret"]})


@tenant_view(BILLING_EDIT_ROLES)
@require_POST
def card_setup_complete(request):
    tenant = request.tenant
    try:
        card = cards.card_setup_complete(tenant=tenant, setup_intent_id=request.POST.get("setup_intent", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("card_register", tenant_slug=tenant.slug)
    messages.success(
        request,
        _("Card registered: %(brand)s ending in %(last4)s.")
        % {"brand": card.brand.title(), "last4": card.last4}
        if card
        else _("Card registered."),
    )
    from payments.charging.collection import open_invoices_retry

    for result in open_invoices_retry(
        tenant=tenant, actor=request.user
    ):  # a new card pays what failed, at once
        if result["redirect"]:
            messages.info(request, result["message"])
            return redirect(result["redirect"])
        (messages.success if result["outcome"] == "paid" else messages.error)(request, result["message"])
    return redirect("billing_information", tenant_slug=tenant.slug)


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def card_remove(request, pk):
    tenant = request.tenant
    card = selectors.payment_method_get(tenant=tenant, pk=pk)
    if request.method == "POST":
        perform(
            request,
            lambda: cards.card_remove(tenant=tenant, payment_method=card),
            success=_("Card ending in %(last4)s removed.") % {"last4": card.last4},
        )
        return redirect("billing_information", tenant_slug=tenant.slug)
    return render(request, "payments/card_remove.html", {"tenant": tenant, "card": card})


@tenant_view(BILLING_EDIT_ROLES)
@require_POST
def payment_method_choose(request):
    tenant = request.tenant
    form = PaymentMethodChoiceForm(
        request.POST, bank_transfer_reason=selectors.payment_management(tenant=tenant)["bank_transfer_reason"]
    )
    if (
        form.is_valid()
        and perform(
            request,
            lambda: cards.payment_method_choose(tenant=tenant, **form.cleaned_data),
            form=form,
            success=_("Payment method saved."),
        ).ok
    ):
        return redirect("billing_information", tenant_slug=tenant.slug)
    return render(
        request,
        "payments/billing_information.html",
        _billing_information_context(request, method_form=form),
        status=400,
    )


@tenant_view(BILLING_EDIT_ROLES)
@require_POST
def transfer_payer_name(request):
    """The payer name the tenant's bank prints on its transfers (振込名義), kept in the bank's half-width kana."""
    from payments.invoicing.transfers import transfer_payer_name_set

    tenant = request.tenant
    form = TransferPayerNameForm(request.POST)
    if (
        form.is_valid()
        and perform(
            request,
            lambda: transfer_payer_name_set(
                tenant=tenant, payer_name=form.cleaned_data["payer_name"], actor=request.user
            ),
            form=form,
            field="payer_name",
            success=lambda profile: _("Payer name saved: %(name)s") % {"name": profile.payer_name or "—"},
        ).ok
    ):
        return redirect(reverse("billing_information", args=[tenant.slug]) + "#bank-transfer")
    return render(
        request,
        "payments/billing_information.html",
        _billing_information_context(request, payer_name_form=form),
        status=400,
    )
