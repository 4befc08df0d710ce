"""Tenant-scoped views: the tenant comes from the URL and the user's membership, never from a form."""

from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext

from .models import ALL_ROLES
from .selectors import membership_get

CURRENT_TENANT_SESSION_KEY = "current_tenant"


def tenant_view(roles=ALL_ROLES):
    """Decorate a view taking `tenant_slug`: anonymous → sign-in, not a member → 404, role not allowed → 403.

    The view receives `request.tenant` and `request.membership`.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, tenant_slug, *args, **kwargs):
            membership = membership_get(user=request.user, tenant_slug=tenant_slug)
            request.tenant = membership.tenant
            request.membership = membership
            request.session[CURRENT_TENANT_SESSION_KEY] = membership.tenant.slug
            if membership.role not in roles:
                raise PermissionDenied(gettext("Your role in this tenant does not give access to this page."))
            # Dates on tenant pages are shown in the tenant's time zone.
            with timezone.override(ZoneInfo(membership.tenant.time_zone)):
                return view(request, *args, **kwargs)

        wrapper.tenant_roles = frozenset(roles)
        return wrapper

    return decorator
