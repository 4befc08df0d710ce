from django.http import Http404

from .models import Membership


def memberships_for_user(*, user):
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def membership_get(*, user, tenant_slug: str) -> Membership:
    """The user's membership in the tenant; a tenant the user is not a member of does not exist for them (404)."""
    membership = (
        Membership.objects.select_related("tenant", "tenant__representative", "tenant__payment_administrator")
        .filter(user=user, tenant__slug=tenant_slug)
        .first()
    )
    if membership is None:
        raise Http404("No such tenant.")
    return membership


def tenant_members(*, tenant):
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")


def tenant_member_users(*, tenant):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(memberships__tenant=tenant).order_by("email")
