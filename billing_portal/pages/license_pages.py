"""License pages: plan selection, confirmation with proration, cancel / resume, reservations, RPs and users."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.models import BILLING_EDIT_ROLES, BILLING_VIEW_ROLES, EndUser, RelyingParty
from accounts.permissions import tenant_view
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import format_money
from billing_portal.common.page_actions import perform
from licenses import selectors, services
from licenses.forms import EndUserForm, RelyingPartyForm
from licenses.models import PlanChange, ProrationBehavior
from licenses.registrations import (
    end_user_register,
    end_user_remove,
    relying_party_register,
    relying_party_remove,
)
from payments.charging.selectors import (
    payment_account_get,
    payment_method_missing_reason,
    payment_settings_get,
)
from payments.invoicing.discounts import coupon_attach


def _to_dashboard(tenant):
    return redirect("billing_dashboard", tenant_slug=tenant.slug)


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET"])
def license_plans(request):
    """Plans side by side in the tenant's currency; choosing one leads to the confirmation page."""
    tenant = request.tenant
    license = selectors.license_get(tenant=tenant)
    return render(
        request,
        "licenses/plan_select.html",
        {
            "tenant": tenant,
            "license": license,
            "plans": selectors.plans_for_selection(tenant=tenant),
            "payment_account": payment_account_get(tenant=tenant),
            "reservation": selectors.pending_reservation_get(tenant=tenant),
        },
    )


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def license_change(request):
    """Confirmation page: shows what the change costs (proration) before anything is changed; POST makes it."""
    tenant = request.tenant
    code = request.POST.get("plan") or request.GET.get("plan")
    if not code:
        return redirect("license_plans", tenant_slug=tenant.slug)
    try:
        plan = selectors.plan_get(code=code, currency=tenant.currency)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("license_plans", tenant_slug=tenant.slug)
    preview = selectors.plan_change_preview(tenant=tenant, plan=plan)
    promotion = _promotion_code_preview(request, tenant=tenant, plan=plan, preview=preview)
    charge = charge_now_preview(tenant, preview, discount=promotion["discount"])
    error = None
    if request.method == "POST":
        expected = request.POST.get("expected_total", "")
        if promotion["error"]:
            error = promotion["error"]
        elif charge is not None and expected and expected != str(charge["total"]):
            error = _(
                "The amount to be charged is now %(amount)s (the proration runs by the second). Check it and "
                "confirm again."
            ) % {"amount": format_money(charge["total"], preview["currency"])}
        else:
            error = _make_change(request, tenant, plan, preview, coupon=promotion["coupon"])
        if error is None:
            return _to_dashboard(tenant)
    payment_problem = (
        ""
        if preview["kind"] in ("same", PlanChange.Kind.DOWNGRADE)
        else (payment_method_missing_reason(tenant=tenant))
    )
    return render(
        request,
        "licenses/plan_confirm.html",
        {
            "tenant": tenant,
            "preview": preview,
            "plan": plan,
            "error": error,
            "promotion": promotion,
            "charge": charge,
            "by_bank_transfer": payment_settings_get(tenant=tenant).method == "bank_transfer",
            "payment_problem": payment_problem,
            "payment_account": payment_account_get(tenant=tenant),
        },
        status=400 if error else 200,
    )


def _promotion_code_preview(request, *, tenant, plan, preview) -> dict:
    """The promotion code typed on the confirmation page: its coupon and what it takes off now, or its error."""
    from decimal import Decimal

    from payments.invoicing.discounts import coupon_check, discount_preview, promotion_code_find

    code = (request.POST.get("promotion_code") or request.GET.get("promotion_code") or "").strip()
    result = {"code": code, "coupon": None, "error": None, "discount": 0, "payable": preview["difference"]}
    if not code or preview["kind"] in ("same", PlanChange.Kind.DOWNGRADE):
        return result
    try:
        coupon = promotion_code_find(code=code)
        coupon_check(tenant=tenant, coupon=coupon, plan=plan)
    except ApplicationError as exc:
        result["error"] = exc.message
        return result
    lines = [
        {"amount": preview["unused"], "category": "license"},
        {"amount": preview["remaining"], "category": "license"},
    ]
    fraction = (
        Decimal(preview["remaining"]) / Decimal(preview["new_amount"]) if preview["new_amount"] else None
    )
    result["coupon"] = coupon
    result["discount"] = discount_preview(
        tenant=tenant, coupon=coupon, lines=lines, plan=plan, fraction=fraction
    )
    result["payable"] = preview["difference"] - result["discount"]
    return result


def charge_now_preview(tenant, preview, *, discount: int = 0):
    """The tax-included amount a license or support plan change charges at once (None when nothing is charged
    now): the invoice's own lines (unused, remaining, the promotion's discount), credits and single tax rounding."""
    from payments.invoicing.preview import immediate_charge_preview

    if preview["kind"] not in (PlanChange.Kind.PURCHASE, PlanChange.Kind.UPGRADE, PlanChange.Kind.CHANGE):
        return None
    if preview["difference"] <= 0:
        return None
    lines = (
        [preview["remaining"]]
        if preview["kind"] == PlanChange.Kind.PURCHASE
        else [preview["unused"], preview["remaining"]]
    )
    if discount:
        lines.append(-discount)
    return immediate_charge_preview(tenant=tenant, line_amounts=lines)


def _make_change(request, tenant, plan, preview, *, coupon=None):
    """POST of the confirmation page: the change itself, through the services, with the promotion code's coupon
    attached in the same transaction (used only if the change is made). Returns an error or None."""
    try:
        with transaction.atomic():
            if coupon is not None:
                coupon_attach(
                    tenant=tenant, coupon=coupon, source="promotion_code", plan=plan, actor=request.user
                )
            _make_change_now(request, tenant, plan, preview)
    except ApplicationError as exc:
        return exc.message
    return None


def _make_change_now(request, tenant, plan, preview):
    if preview["kind"] == PlanChange.Kind.PURCHASE:
        services.license_purchase(tenant=tenant, plan=plan, actor=request.user)
        messages.success(
            request,
            _("You purchased the %(plan)s license. The rest of this period is invoiced and charged now.")
            % {"plan": plan.name},
        )
    elif preview["kind"] == PlanChange.Kind.DOWNGRADE:
        reservation = services.license_reserve_change(tenant=tenant, plan=plan, actor=request.user)
        messages.success(
            request,
            _("The license will change to %(plan)s on %(date)s.")
            % {
                "plan": plan.name,
                "date": date_format(timezone.localtime(reservation.effective_at), "DATE_FORMAT"),
            },
        )
    else:
        change = services.license_change_now(
            tenant=tenant, plan=plan, proration_behavior=ProrationBehavior.ALWAYS_INVOICE, actor=request.user
        )
        messages.success(
            request,
            _("The license is now %(plan)s. Difference before tax: %(amount)s.")
            % {"plan": plan.name, "amount": format_money(change.difference_amount, change.currency)},
        )


def _confirm_action(request, *, template, action, success, context=None):
    tenant = request.tenant
    error = None
    if request.method == "POST":
        outcome = perform(
            request, lambda: action(tenant=tenant, actor=request.user), success=success, flash_error=False
        )
        if outcome.ok:
            return _to_dashboard(tenant)
        error = outcome.error
    return render(
        request,
        template,
        {
            "tenant": tenant,
            "license": selectors.license_get(tenant=tenant),
            "reservation": selectors.pending_reservation_get(tenant=tenant),
            "error": error,
            **(context or {}),
        },
        status=400 if error else 200,
    )


@tenant_view(BILLING_VIEW_ROLES)
@require_http_methods(["GET"])
def license_cancel(request):
    """Cancelling a license has one path: the contract page's terms, review and confirmation (owners). A POST
    here (an old form) is refused with 405; it never cancels."""
    return redirect(reverse("contract", args=[request.tenant.slug]) + "#cancel-h")


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def license_resume(request):
    return _confirm_action(
        request,
        template="licenses/license_resume.html",
        action=services.license_resume,
        success=gettext_lazy("The cancellation is undone: the license renews automatically again."),
    )


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def license_reservation_cancel(request):
    return _confirm_action(
        request,
        template="licenses/reservation_cancel.html",
        action=services.license_reservation_cancel,
        success=gettext_lazy("The reserved license change is cancelled; the current plan continues."),
    )


# What the registration pages say, per kind of registration.
_REGISTERED = {
    "RP": gettext_lazy("Registered RP %(value)s."),
    "user": gettext_lazy("Registered user %(value)s."),
}
_REMOVED = {"RP": gettext_lazy("Removed RP %(value)s."), "user": gettext_lazy("Removed user %(value)s.")}


def _register_page(request, *, key: str, form_class, service, fields, model, limit_field, noun, remove):
    tenant = request.tenant
    removing = request.method == "POST" and "remove" in request.POST
    form = form_class(None if removing else (request.POST or None))
    if request.method == "POST":
        if request.membership.role not in BILLING_EDIT_ROLES:
            raise PermissionDenied(_("Your role can view this page but not register."))
        if removing:
            value = request.POST.get("remove", "")
            perform(
                request,
                lambda: remove(tenant=tenant, actor=request.user, **{fields[0]: value}),
                success=_REMOVED[noun] % {"value": value},
            )
            return redirect(request.path)
        if (
            form.is_valid()
            and perform(
                request,
                lambda: service(tenant=tenant, **{f: form.cleaned_data[f] for f in fields}),
                form=form,
                field="__all__",
                success=lambda obj: _REGISTERED[noun] % {"value": obj},
            ).ok
        ):
            return redirect(request.path)
    license = selectors.license_get(tenant=tenant)
    page = REGISTRATION_PAGES[key]
    limit = getattr(license.plan, limit_field)
    items = model.objects.filter(tenant=tenant).order_by("created_at", "pk")
    total = items.count()
    values = {
        "count": f"{total:,}",
        "plan": license.plan.name,
        "limit": f"{limit:,}" if limit is not None else "",
    }
    return render(
        request,
        "licenses/registrations.html",
        {
            "tenant": tenant,
            "form": form,
            "page": page,
            "counted": (page["counted_unlimited"] if limit is None else page["counted"]) % values,
            "rows": [
                {"id": getattr(o, fields[0]), "name": getattr(o, fields[1]), "created_at": o.created_at}
                for o in items[:REGISTRATIONS_SHOWN]
            ],
            "total": total,
            "license": license,
            "limit": limit,
        },
        status=400 if form.errors else 200,
    )


REGISTRATIONS_SHOWN = 500
REGISTRATION_PAGES = {
    "rp": {
        "key": "rp",
        "title": gettext_lazy("Relying parties"),
        "register": gettext_lazy("Register an RP"),
        "listed": gettext_lazy("Registered RPs"),
        "id_label": "RP ID",
        "name_label": gettext_lazy("Name"),
        "empty": gettext_lazy("No RPs registered yet."),
        "counted_unlimited": gettext_lazy("%(count)s RPs registered (no limit on the %(plan)s license)."),
        "counted": gettext_lazy("%(count)s of %(limit)s RPs registered (%(plan)s license)."),
    },
    "user": {
        "key": "user",
        "title": gettext_lazy("Registered users"),
        "register": gettext_lazy("Register a user"),
        "listed": gettext_lazy("Registered users"),
        "id_label": gettext_lazy("User ID"),
        "name_label": gettext_lazy("Display name"),
        "empty": gettext_lazy("No users registered yet."),
        "counted_unlimited": gettext_lazy("%(count)s users registered (no limit on the %(plan)s license)."),
        "counted": gettext_lazy("%(count)s of %(limit)s users registered (%(plan)s license)."),
    },
}


@tenant_view(BILLING_VIEW_ROLES)
@require_http_methods(["GET", "POST"])
def relying_parties(request):
    return _register_page(
        request,
        key="rp",
        form_class=RelyingPartyForm,
        service=relying_party_register,
        fields=["rp_id", "name"],
        model=RelyingParty,
        limit_field="max_rps",
        noun="RP",
        remove=relying_party_remove,
    )


@tenant_view(BILLING_VIEW_ROLES)
@require_http_methods(["GET", "POST"])
def end_users(request):
    return _register_page(
        request,
        key="user",
        form_class=EndUserForm,
        service=end_user_register,
        fields=["user_id", "display_name"],
        model=EndUser,
        limit_field="max_users",
        noun="user",
        remove=end_user_remove,
    )
