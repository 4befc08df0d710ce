from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from billing_portal.common.page_actions import perform

from .forms import CustomerForm, MemberChoiceForm
from .models import BILLING_EDIT_ROLES, BILLING_VIEW_ROLES, OWNER_ONLY
from .permissions import CURRENT_TENANT_SESSION_KEY, tenant_view
from .selectors import memberships_for_user
from .services import (
    tenant_set_payment_administrator,
    tenant_set_representative,
    tenant_update,
    user_language_set,
)


@login_required
def home(request):
    """Send the user to the tenant they used last, or their first one, or the tenant list."""
    memberships = list(memberships_for_user(user=request.user))
    last = request.session.get(CURRENT_TENANT_SESSION_KEY)
    chosen = next((m for m in memberships if m.tenant.slug == last), None) or (
        memberships[0] if memberships else None
    )
    if chosen is None:
        return render(request, "accounts/no_tenant.html", status=200)
    return redirect("tenant_home", tenant_slug=chosen.tenant.slug)


@require_http_methods(["POST"])
def language_set(request):
    """The header's language switcher: saved on the signed-in user (and in the cookie, for signed-out pages)."""
    from django.conf import settings
    from django.utils import translation

    language = request.POST.get("language", "")
    if language not in {code for code, _label in settings.LANGUAGES}:
        language = ""
    if request.user.is_authenticated:
        user_language_set(user=request.user, language=language)
    target = request.POST.get("next") or request.headers.get("referer") or "/"
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    if language:
        translation.activate(language)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response


@login_required
def tenant_list(request):
    return render(
        request, "accounts/tenant_list.html", {"memberships": memberships_for_user(user=request.user)}
    )


@tenant_view()
def tenant_home(request):
    if request.membership.role in BILLING_VIEW_ROLES:
        return redirect("customer_view", tenant_slug=request.tenant.slug)
    return render(request, "accounts/tenant_home.html")


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def customer_edit(request):
    tenant = request.tenant
    form = CustomerForm(request.POST or None, instance=tenant)
    if (
        request.method == "POST"
        and form.is_valid()
        and perform(
            request,
            lambda: tenant_update(tenant=tenant, data={f: form.cleaned_data[f] for f in form.Meta.fields}),
            form=form,
            field="__all__",
            success=_("Customer information saved."),
        ).ok
    ):
        return redirect("customer_view", tenant_slug=tenant.slug)
    return render(request, "accounts/customer_edit.html", {"form": form, "tenant": tenant})


def _safe_next(request):
    """A same-site `next` path (used by pages that link to the change forms), or None."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return None


def _member_change(request, *, attribute, label, service, title, changed):
    tenant = request.tenant
    tenant.refresh_from_db()
    form = MemberChoiceForm(
        request.POST or None, tenant=tenant, label=label, initial={"user": getattr(tenant, f"{attribute}_id")}
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and perform(
            request,
            lambda: service(tenant=tenant, user=form.cleaned_data["user"], actor=request.user),
            form=form,
            field="user",
            success=changed % {"name": form.cleaned_data["user"].display_name},
        ).ok
    ):
        return redirect(_safe_next(request) or reverse("customer_view", args=[tenant.slug]))
    return render(
        request,
        "accounts/member_change.html",
        {"form": form, "tenant": tenant, "title": title, "next": _safe_next(request) or ""},
    )


@tenant_view(OWNER_ONLY)
@require_http_methods(["GET", "POST"])
def representative_change(request):
    return _member_change(
        request,
        attribute="representative",
        label=_("Representative"),
        service=tenant_set_representative,
        title=_("Change representative"),
        changed=_("Representative changed to %(name)s."),
    )


@tenant_view(OWNER_ONLY)
@require_http_methods(["GET", "POST"])
def payment_administrator_change(request):
    return _member_change(
        request,
        attribute="payment_administrator",
        label=_("Payment administrator"),
        service=tenant_set_payment_administrator,
        title=_("Change payment administrator"),
        changed=_("Payment administrator changed to %(name)s."),
    )
