"""Members of a tenant: list, invite, change role, remove (owners act; billing admins and managers read)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.page_actions import perform

from .forms import InvitationForm, RoleForm
from .models import BILLING_VIEW_ROLES, OWNER_ONLY, AuditEntry, Invitation, Membership, Role
from .permissions import tenant_view
from .selectors import tenant_members
from .services import (
    invitation_accept,
    invitation_create,
    invitation_get_for_user,
    membership_change_role,
    membership_remove,
)


def _members_page(request, *, invite_form=None, status=200):
    tenant = request.tenant
    return render(
        request,
        "accounts/members.html",
        {
            "tenant": tenant,
            "members": tenant_members(tenant=tenant),
            "invitations": Invitation.objects.filter(
                tenant=tenant, accepted_at__isnull=True, revoked_at__isnull=True
            ).select_related("invited_by"),
            "invite_form": invite_form or InvitationForm(),
            "roles": Role.choices,
            "is_owner": request.membership.role == Role.OWNER,
        },
        status=status,
    )


@tenant_view(BILLING_VIEW_ROLES)
def member_list(request):
    return _members_page(request)


@tenant_view(OWNER_ONLY)
@require_POST
def member_invite(request):
    form = InvitationForm(request.POST)
    if (
        form.is_valid()
        and perform(
            request,
            lambda: invitation_create(
                tenant=request.tenant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
            ),
            form=form,
            field="email",
            success=lambda created: (
                _("Invitation sent to %(email)s. It expires in %(days)s days.")
                % {"email": created[0].email, "days": Invitation.VALID_DAYS}
            ),
        ).ok
    ):
        return redirect("member_list", tenant_slug=request.tenant.slug)
    return _members_page(request, invite_form=form, status=400)


@tenant_view(OWNER_ONLY)
@require_POST
def member_role_change(request, membership_id):
    membership = get_object_or_404(Membership, pk=membership_id, tenant=request.tenant)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed roles."))
    else:
        perform(
            request,
            lambda: membership_change_role(
                membership=membership, role=form.cleaned_data["role"], actor=request.user
            ),
            success=lambda _changed: (
                _("%(name)s is now %(role)s.")
                % {"name": membership.user.display_name, "role": membership.get_role_display().lower()}
            ),
        )
    return redirect("member_list", tenant_slug=request.tenant.slug)


@tenant_view(OWNER_ONLY)
@require_http_methods(["GET", "POST"])
def member_remove(request, membership_id):
    membership = get_object_or_404(
        Membership.objects.select_related("user"), pk=membership_id, tenant=request.tenant
    )
    if request.method == "POST":
        perform(
            request,
            lambda: membership_remove(membership=membership, actor=request.user),
            success=_("%(name)s no longer has access to %(tenant)s.")
            % {"name": membership.user.display_name, "tenant": request.tenant.name},
        )
        return redirect("member_list", tenant_slug=request.tenant.slug)
    return render(
        request, "accounts/member_remove.html", {"tenant": request.tenant, "membership": membership}
    )


@tenant_view(OWNER_ONLY)
def audit_log(request):
    entries = AuditEntry.objects.filter(tenant=request.tenant).select_related("actor")[:500]
    return render(request, "accounts/audit_log.html", {"tenant": request.tenant, "entries": entries})


@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept_view(request, token):
    try:
        invitation = invitation_get_for_user(token=token, user=request.user)
    except ApplicationError as exc:
        return render(
            request,
            "accounts/invitation.html",
            {"error": exc.message, "error_code": exc.code},
            status=exc.status,
        )
    if request.method == "POST":
        try:
            membership = invitation_accept(token=token, user=request.user)
        except ApplicationError as exc:
            return render(request, "accounts/invitation.html", {"error": exc.message}, status=exc.status)
        messages.success(request, _("Welcome to %(tenant)s.") % {"tenant": membership.tenant.name})
        return redirect("tenant_home", tenant_slug=membership.tenant.slug)
    return render(request, "accounts/invitation.html", {"invitation": invitation})
