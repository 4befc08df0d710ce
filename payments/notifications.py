"""E-mails about invoices and payments, to the tenant's payment administrator (templated, plain + HTML)."""

from django.urls import reverse

from billing_portal.common.notify import send_templated_mail


def _recipients(tenant) -> list[str]:
    admin = tenant.payment_administrator
    return [admin.email] if admin else []


def _billing_path(invoice) -> str:
    return reverse("billing_information", args=[invoice.tenant.slug])


def notify_invoice_issued(*, invoice) -> None:
    send_templated_mail(
        name="invoice_issued",
        to=_recipients(invoice.tenant),
        time_zone=invoice.tenant.time_zone,
        context={
            "invoice": invoice,
            "billing_path": _billing_path(invoice),
            "invoice_path": reverse("invoice_document", args=[invoice.tenant.slug, invoice.number]),
        },
    )


def notify_payment_succeeded(*, invoice) -> None:
    send_templated_mail(
        name="payment_succeeded",
        to=_recipients(invoice.tenant),
        time_zone=invoice.tenant.time_zone,
        context={
            "invoice": invoice,
            "receipt_path": reverse("receipt_download", args=[invoice.tenant.slug, invoice.receipt_id]),
        },
    )


def notify_payment_failed(
    *, invoice, reason: str, next_attempt_at=None, action_path: str | None = None
) -> None:
    send_templated_mail(
        name="payment_failed",
        to=_recipients(invoice.tenant),
        time_zone=invoice.tenant.time_zone,
        context={
            "invoice": invoice,
            "reason": reason,
            "next_attempt_at": next_attempt_at,
            "action_path": action_path,
            "billing_path": _billing_path(invoice),
        },
    )


def notify_refunded(*, invoice, refund) -> None:
    send_templated_mail(
        name="refunded",
        to=_recipients(invoice.tenant),
        time_zone=invoice.tenant.time_zone,
        context={"invoice": invoice, "refund": refund, "billing_path": _billing_path(invoice)},
    )


def notify_dispute_opened(*, invoice, dispute) -> None:
    send_templated_mail(
        name="dispute_opened",
        to=_recipients(invoice.tenant),
        time_zone=invoice.tenant.time_zone,
        context={"invoice": invoice, "dispute": dispute, "billing_path": _billing_path(invoice)},
    )


def notify_transfer_reminder(*, invoice, step: str) -> None:
    """An unpaid bank-transfer invoice: before, on or after its due date, with the account and the reference."""
    from payments.invoicing.transfers import received_amounts, transfer_details

    received = received_amounts([invoice.pk]).get(invoice.pk, 0)
    send_templated_mail(
        name="transfer_reminder",
        to=_recipients(invoice.tenant),
        time_zone=invoice.tenant.time_zone,
        context={
            "invoice": invoice,
            "step": step,
            "received": received,
            "remaining": invoice.payment_amount - received,
            **transfer_details(tenant=invoice.tenant),
            "billing_path": _billing_path(invoice),
        },
    )
