"""Audit entries and e-mails for license changes. Called by the services inside their transaction; the e-mail
goes out after commit to the representative and the payment administrator."""

from django.db import transaction

from accounts.audit import audit_record
from billing_portal.common import events
from billing_portal.common.notify import send_templated_mail

# license_event(action=…) → the event operators can subscribe to (outgoing webhooks); other actions are audit only
WEBHOOK_EVENTS = {
    "license.purchased": "license.changed",
    "license.changed": "license.changed",
    "license.expired": "license.changed",
    "license.resumed": "license.changed",
    "license.reservation_set": "license.reservation_set",
    "license.cancelled": "license.cancelled",
}


def _announce(*, tenant, action: str, plan=None, when=None, data: dict | None = None) -> None:
    type_ = WEBHOOK_EVENTS.get(action)
    if type_ is None:
        return
    events.publish(
        type_,
        tenant=tenant,
        data={
            "action": action.split(".", 1)[1],
            "plan": {"code": plan.code, "name": plan.name} if plan is not None else None,
            "effective_at": when.isoformat() if when is not None else None,
            **{k: v for k, v in (data or {}).items() if isinstance(v, str | int | bool | None)},
        },
    )


def license_event(*, tenant, action: str, actor=None, plan=None, when=None, data: dict | None = None) -> None:
    payload = {**(data or {})}
    if plan is not None:
        payload.setdefault("plan", plan.name)
    if when is not None:
        payload.setdefault("when", when.isoformat())
    # The e-mail renders lazy texts (limit reasons) in each recipient's language; the audit entry and the webhook
    # store them rendered now.
    audit_record(action=action, tenant=tenant, actor=actor, data=payload)
    _announce(tenant=tenant, action=action, plan=plan, when=when, data=data)
    recipients = sorted(
        {u.email for u in (tenant.representative, tenant.payment_administrator) if u is not None}
    )
    context = {
        "tenant": tenant,
        "action": action,
        "plan": plan,
        "when": when,
        "actor": actor,
        "data": payload,
    }
    transaction.on_commit(
        lambda: send_templated_mail(
            name="license_event",
            to=recipients,
            context=context,
            time_zone=tenant.time_zone,
        )
    )
