from .models import BILLING_EDIT_ROLES, BILLING_VIEW_ROLES, OWNER_ONLY
from .selectors import memberships_for_user


def tenant_context(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    role = membership.role if membership else None
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": membership,
        "user_memberships": memberships_for_user(user=user),
        "can_view_billing": role in BILLING_VIEW_ROLES,
        "can_edit_billing": role in BILLING_EDIT_ROLES,
        "is_tenant_owner": role in OWNER_ONLY,
    }
