"""Contract details: contract cancellation (owners: terms ticked, review, confirm; the only cancellation path) and
unsubscribe (the representative, who must be an owner, confirming with the customer name and their password)."""

from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import BILLING_VIEW_ROLES, OWNER_ONLY, Role
from accounts.permissions import tenant_view
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.page_actions import perform
from licenses.selectors import license_get
from licenses.services import license_cancel
from payments.unsubscribe import tenant_unsubscribe


class CancellationForm(forms.Form):
    def __init__(self, *args, terms, **kwargs):
        super().__init__(*args, **kwargs)
        for name, text in terms:
            self.fields[name] = forms.BooleanField(
                label=text, required=True, error_messages={"required": _("Tick this box to agree.")}
            )


class UnsubscribeForm(forms.Form):
    confirm_name = forms.CharField(label=gettext_lazy("Type the customer name to confirm"))
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        help_text=gettext_lazy("Enter your password again to confirm that it is you."),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, tenant, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.request = request

    def clean_password(self):
        """Re-authentication, through allauth (so the sign-in throttle applies to guesses made here too)."""
        from allauth.account.adapter import get_adapter

        password = self.cleaned_data["password"]
        if not get_adapter(self.request).reauthenticate(self.request.user, password):
            raise forms.ValidationError(_("The password is not correct."))
        return password

    def clean_confirm_name(self):
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.tenant.name:
            raise forms.ValidationError(_("Type “%(name)s” exactly to confirm.") % {"name": self.tenant.name})
        return value


def _local_text(instant, tenant) -> str:
    if not instant:
        return ""
    return date_format(timezone.localtime(instant, ZoneInfo(tenant.time_zone)), "DATETIME_FORMAT")


def _terms(tenant):
    license = license_get(tenant=tenant)
    from licenses.selectors import free_plan_get

    free = free_plan_get(currency=tenant.currency)
    end_text = _local_text(license.current_period_end, tenant) or _("the end of the current period")
    return license, [
        (
            "no_renewal",
            _(
                "The license will not renew. Service continues until %(end)s; after that the tenant is "
                "on the Free license."
            )
            % {"end": end_text},
        ),
        ("no_refund", _("Fees already invoiced, including those of the current period, are not refunded.")),
        (
            "free_limits",
            _(
                "On the Free license at most %(rps)s RP(s) and %(users)s users can be registered; "
                "registrations above these limits stop working."
            )
            % {"rps": free.max_rps, "users": f"{free.max_users:,}"},
        ),
        ("open_invoices", _("Invoices already issued remain due and are charged as usual.")),
    ]


@tenant_view(BILLING_VIEW_ROLES)
def contract(request):
    tenant = request.tenant
    license, terms = _terms(tenant)
    return render(
        request,
        "accounts/contract.html",
        {
            "tenant": tenant,
            "license": license,
            "form": CancellationForm(terms=terms),
            "is_owner": request.membership.role == Role.OWNER,
            "is_representative": tenant.representative_id == request.user.pk,
        },
    )


@tenant_view(OWNER_ONLY)
@require_POST
def contract_cancel(request):
    """Step 1 (review) when the terms are ticked; step 2 (`confirm`) cancels."""
    tenant = request.tenant
    license, terms = _terms(tenant)
    form = CancellationForm(request.POST, terms=terms)
    if license.plan.is_free:
        messages.error(
            request, _("There is no paid contract to cancel. To stop using the service, unsubscribe.")
        )
        return redirect("contract", tenant_slug=tenant.slug)
    if not form.is_valid():
        return render(
            request,
            "accounts/contract.html",
            {
                "tenant": tenant,
                "license": license,
                "form": form,
                "is_owner": True,
                "is_representative": tenant.representative_id == request.user.pk,
            },
            status=400,
        )
    if request.POST.get("step") != "confirm":
        return render(
            request,
            "accounts/contract_review.html",
            {"tenant": tenant, "license": license, "form": form, "terms": terms},
        )
    perform(
        request,
        lambda: license_cancel(tenant=tenant, actor=request.user),
        success=lambda cancelled: (
            _("The contract is cancelled. Service continues until %(end)s.")
            % {"end": _local_text(cancelled.current_period_end, tenant)}
        ),
    )
    return redirect("billing_dashboard", tenant_slug=tenant.slug)


@tenant_view(BILLING_VIEW_ROLES)
@require_http_methods(["GET", "POST"])
def unsubscribe(request):
    tenant = request.tenant
    is_representative = tenant.representative_id == request.user.pk
    is_owner = request.membership.role in OWNER_ONLY
    if request.method == "POST" and not is_representative:
        raise PermissionDenied(_("Only the representative can unsubscribe."))
    if request.method == "POST" and not is_owner:
        raise PermissionDenied(_("The representative must be an owner to unsubscribe."))
    license = license_get(tenant=tenant)
    form = UnsubscribeForm(request.POST or None, tenant=tenant, request=request)
    if request.method == "POST" and not license.plan.is_free:
        messages.error(
            request, _("Customers with a paid license unsubscribe through us: please contact the operator.")
        )
        return redirect("unsubscribe", tenant_slug=tenant.slug)
    if request.method == "POST" and form.is_valid():
        try:
            tenant_unsubscribe(tenant=tenant, actor=request.user)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            name = form.cleaned_data["confirm_name"]
            logout(request)
            messages.success(
                request,
                _("%(name)s has been unsubscribed and its registered information deleted.") % {"name": name},
            )
            return redirect("account_login")
    return render(
        request,
        "accounts/unsubscribe.html",
        {
            "tenant": tenant,
            "license": license,
            "form": form,
            "is_representative": is_representative,
            "is_owner": is_owner,
        },
    )
