"""Django admin signs in through allauth (so rate limits and MFA apply) and, when STAFF_MFA_REQUIRED, only
opens for staff who have an authenticator app set up."""

from functools import wraps

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext


def staff_has_mfa(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def require_staff_mfa(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if settings.STAFF_MFA_REQUIRED and user.is_authenticated and user.is_staff and not staff_has_mfa(user):
            messages.warning(request, gettext("Set up an authenticator app before using Django admin."))
            return redirect("mfa_activate_totp")
        return view(request, *args, **kwargs)

    return wrapper


def install(site) -> None:
    site.login = secure_admin_login(site.login)
    site.admin_view = _wrap_admin_view(site.admin_view)


def _wrap_admin_view(admin_view):
    @wraps(admin_view)
    def wrapped(view, cacheable=False):
        return admin_view(require_staff_mfa(view), cacheable)

    return wrapped
