"""The audit log's one writer. Every financial or permission change calls `audit_record` inside its transaction."""

from django.utils.translation import pgettext_lazy

from billing_portal.common import clock
from billing_portal.common.bulk import copy_insert
from billing_portal.common.text import plain

from .models import AuditEntry


def audit_record(*, action: str, tenant=None, actor=None, data: dict | None = None) -> AuditEntry:
    """Append an entry. `actor` is a user, or None for the system (Celery, the operator API). Lazy texts in `data`
    (translations rendered later, e.g. limit reasons) are stored as rendered now."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    label = actor.email if actor is not None else "system"
    return AuditEntry.objects.create(
        tenant=tenant,
        actor=actor,
        actor_label=label,
        action=action,
        data=plain(data or {}),
        created_at=clock.now(),
    )


def audit_record_many(*, action: str, entries) -> None:
    """System entries in one INSERT: `entries` are (tenant, data) pairs (the set-based monthly invoice run)."""
    now = clock.now()
    copy_insert(
        [
            AuditEntry(
                tenant=tenant,
                actor=None,
                actor_label="system",
                action=action,
                data=plain(data),
                created_at=now,
            )
            for tenant, data in entries
        ]
    )


# What each action is called on the audit log page (the code stays in the data and the page's tooltip).
ACTION_LABELS = {
    "invitation.created": pgettext_lazy("audit action", "Invitation sent"),
    "invitation.accepted": pgettext_lazy("audit action", "Invitation accepted"),
    "membership.role_changed": pgettext_lazy("audit action", "Role changed"),
    "membership.removed": pgettext_lazy("audit action", "Member removed"),
    "representative.changed": pgettext_lazy("audit action", "Representative changed"),
    "payment_administrator.changed": pgettext_lazy("audit action", "Payment administrator changed"),
    "relyingparty.removed": pgettext_lazy("audit action", "RP removed"),
    "enduser.removed": pgettext_lazy("audit action", "User removed"),
    "tenant.suspended": pgettext_lazy("audit action", "Account suspended"),
    "tenant.active": pgettext_lazy("audit action", "Account reactivated"),
    "tenant.closed": pgettext_lazy("audit action", "Account closed"),
    "tenant.unsubscribed": pgettext_lazy("audit action", "Unsubscribed"),
    "license.purchased": pgettext_lazy("audit action", "License purchased"),
    "license.changed": pgettext_lazy("audit action", "License changed"),
    "license.reservation_set": pgettext_lazy("audit action", "License change reserved"),
    "license.reservation_cancelled": pgettext_lazy("audit action", "Reserved license change cancelled"),
    "license.reservation_refused": pgettext_lazy("audit action", "Reserved license change refused"),
    "license.cancelled": pgettext_lazy("audit action", "License cancelled"),
    "license.resumed": pgettext_lazy("audit action", "License cancellation undone"),
    "license.expired": pgettext_lazy("audit action", "License ended"),
    "support.purchased": pgettext_lazy("audit action", "Support plan purchased"),
    "support.changed": pgettext_lazy("audit action", "Support plan changed"),
    "support.cancelled": pgettext_lazy("audit action", "Support plan cancelled"),
    "support.resumed": pgettext_lazy("audit action", "Support plan resumed"),
    "support.ended": pgettext_lazy("audit action", "Support plan ended"),
    "invoice.issued": pgettext_lazy("audit action", "Invoice issued"),
    "invoice.paid": pgettext_lazy("audit action", "Invoice paid"),
    "invoice.payment_failed": pgettext_lazy("audit action", "Payment failed"),
    "invoice.pay_now": pgettext_lazy("audit action", "Pay now"),
    "invoice.refunded": pgettext_lazy("audit action", "Refunded"),
    "invoice.credit_note": pgettext_lazy("audit action", "Credit note issued"),
    "invoice.reissued": pgettext_lazy("audit action", "Invoice reissued"),
    "document.archived": pgettext_lazy("audit action", "Document archived"),
    "invoice.dispute_opened": pgettext_lazy("audit action", "Dispute opened"),
    "credit_code.redeemed": pgettext_lazy("audit action", "Credit code registered"),
    "discount.attached": pgettext_lazy("audit action", "Discount applied"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))
