"""The events payments announces (`billing_portal.common.events`), with one payload shape per invoice event so
every emitter sends the same (operators receive them as outgoing webhooks through `ops`)."""

from billing_portal.common import events


def invoice_data(invoice) -> dict:
    return {
        "invoice": {
            "id": invoice.pk,
            "number": invoice.number,
            "receipt_id": invoice.receipt_id,
            "kind": invoice.kind,
            "status": invoice.status,
            "currency": invoice.currency,
            "payment_amount": invoice.payment_amount,
            "tax_amount": invoice.tax_amount,
            "credit_applied": invoice.credit_applied,
            "billing_date": invoice.billing_date.isoformat(),
            "payment_method": invoice.payment_method,
            "attempt_count": invoice.attempt_count,
        }
    }


def invoice_event(type: str, invoice, **extra) -> None:  # noqa: A002
    events.publish(type, tenant=invoice.tenant, data={**invoice_data(invoice), **extra})
