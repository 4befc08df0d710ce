"""Support plan pages (the second category on the billing dashboard): choose, confirm, cancel, resume. Thin."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.models import BILLING_EDIT_ROLES, OWNER_ONLY
from accounts.permissions import tenant_view
from billing_portal.common.clock import local_text
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import format_money
from billing_portal.common.page_actions import perform
from licenses import support
from payments.charging.selectors import payment_method_missing_reason

from .license_pages import _to_dashboard, charge_now_preview


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET"])
def support_plans(request):
    tenant = request.tenant
    return render(
        request,
        "licenses/support_select.html",
        {
            "tenant": tenant,
            "plans": support.support_plans(tenant=tenant),
            "subscription": support.support_get(tenant=tenant),
            "payment_problem": payment_method_missing_reason(tenant=tenant),
        },
    )


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def support_change(request):
    """Confirmation: what buying or changing the support plan charges now (tax included), before anything changes."""

    tenant = request.tenant
    try:
        plan = support.support_plan_get(
            tenant=tenant, code=(request.POST.get("plan") or request.GET.get("plan") or "")
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("support_plans", tenant_slug=tenant.slug)
    preview = support.support_preview(tenant=tenant, plan=plan)
    charge = charge_now_preview(tenant, preview)
    error = None
    if request.method == "POST":
        expected = request.POST.get("expected_total", "")
        if charge is not None and expected and expected != str(charge["total"]):
            error = _(
                "The amount to be charged is now %(amount)s (the proration runs by the second). Check it and "
                "confirm again."
            ) % {"amount": format_money(charge["total"], preview["currency"])}
        else:
            outcome = perform(
                request,
                lambda: support.support_change(tenant=tenant, plan=plan, actor=request.user),
                success=_("Your support plan is now %(plan)s.") % {"plan": plan.name},
                flash_error=False,
            )
            if outcome.ok:
                return _to_dashboard(tenant)
            error = outcome.error
    return render(
        request,
        "licenses/support_confirm.html",
        {
            "tenant": tenant,
            "plan": plan,
            "preview": preview,
            "charge": charge,
            "error": error,
            "payment_problem": payment_method_missing_reason(tenant=tenant),
        },
        status=400 if error else 200,
    )


@tenant_view(OWNER_ONLY)
@require_http_methods(["GET", "POST"])
def support_cancel(request):
    tenant = request.tenant
    subscription = support.support_get(tenant=tenant)
    if subscription is None:
        messages.error(request, _("There is no support plan to cancel."))
        return _to_dashboard(tenant)
    if request.method == "POST":
        perform(
            request,
            lambda: support.support_cancel(tenant=tenant, actor=request.user),
            success=lambda _cancelled: (
                _("%(plan)s ends on %(end)s; it is not renewed.")
                % {
                    "plan": subscription.plan.name,
                    "end": local_text(subscription.current_period_end, tenant.time_zone),
                }
            ),
        )
        return _to_dashboard(tenant)
    return render(request, "licenses/support_cancel.html", {"tenant": tenant, "subscription": subscription})


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["POST"])
def support_resume(request):
    tenant = request.tenant
    perform(
        request,
        lambda: support.support_resume(tenant=tenant, actor=request.user),
        success=_("Your support plan renews again."),
    )
    return _to_dashboard(tenant)
