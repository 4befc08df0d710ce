"""Django admin signs in through allauth (so rate limits and MFA apply) and, when STAFF_MFA_REQUIRED, only
opens for staff who have an authenticator app set up."""

from functools import wraps

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext, gettext_lazy


def staff_has_mfa(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def require_staff_mfa(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if (
            settings.STAFF_MFA_REQUIRED
            and user.is_authenticated
            and user.is_staff
            and not staff_has_mfa(user)
        ):
            messages.warning(request, gettext("Set up an authenticator app before using Django admin."))
            return redirect("mfa_activate_totp")
        return view(request, *args, **kwargs)

    return wrapper


def install(site) -> None:
    site.login = secure_admin_login(site.login)
    site.admin_view = _wrap_admin_view(site.admin_view)
    site.get_app_list = _named_app_list(site.get_app_list)


# allauth.mfa's model has no translatable name (its verbose name is derived from the class name): the admin index
# and sidebar name it here, in the operator's language.
THIRD_PARTY_MODEL_NAMES = {("mfa", "Authenticator"): gettext_lazy("Authenticators")}


def _named_app_list(get_app_list):
    @wraps(get_app_list)
    def named(request, app_label=None):
        app_list = get_app_list(request, app_label)
        for app in app_list:
            for model in app.get("models", []):
                name = THIRD_PARTY_MODEL_NAMES.get((app.get("app_label"), model.get("object_name")))
                if name is not None:
                    model["name"] = name
        return app_list

    return named


def _wrap_admin_view(admin_view):
    @wraps(admin_view)
    def wrapped(view, cacheable=False):
        return admin_view(require_staff_mfa(view), cacheable)

    return wrapped
