"""The audit log's one writer. Every financial or permission change calls `audit_record` inside its transaction."""

from billing_portal.common import clock
from billing_portal.common.text import plain

from .models import AuditEntry


def audit_record(*, action: str, tenant=None, actor=None, data: dict | None = None) -> AuditEntry:
    """Append an entry. `actor` is a user, or None for the system (Celery, the operator API). Lazy texts in `data`
    (translations rendered later, e.g. limit reasons) are stored as rendered now."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    label = actor.email if actor is not None else "system"
    return AuditEntry.objects.create(
        tenant=tenant, actor=actor, actor_label=label, action=action, data=plain(data or {}), created_at=clock.now()
    )
