"""Refunds at Stripe, each with its credit note (writes)."""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from billing_portal.common.exceptions import ApplicationError, Conflict
from billing_portal.common.money import format_money, round_minor
from payments.charging import gateway as stripe_gateway
from payments.invoicing.credit_notes import credit_note_issue
from payments.models import Invoice, Payment, Refund
from payments.notifications import notify_refunded

logger = logging.getLogger(__name__)


_OPEN_REFUNDS = (Refund.Status.PENDING, Refund.Status.SUCCEEDED)


def refundable_amount(invoice) -> int:
    """What can still be refunded (tax included): paid, minus refunds succeeded or in flight."""
    if invoice.status != Invoice.Status.SUCCESSFUL or invoice.kind == Invoice.Kind.CREDIT_NOTE:
        return 0
    taken = (
        invoice.refunds.filter(status__in=_OPEN_REFUNDS).aggregate(total=Sum("amount_minor"))["total"] or 0
    )
    return max(0, invoice.payment_amount - taken)


def refund_request(*, invoice, amount_minor: int | None, reason: str, actor=None) -> Refund:
    """Refund a paid card invoice in full (`amount_minor` None) or in part (tax included). Raises
    ApplicationError for anything that cannot be refunded; a refund can never exceed what was paid, counting
    earlier and concurrent refunds (the invoice's row lock)."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            _("Say why the invoice is refunded; the reason is printed on the credit note."),
            code="reason_required",
        )
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=invoice.pk)
        if invoice.kind == Invoice.Kind.CREDIT_NOTE:
            raise ApplicationError(_("A credit note cannot be refunded."), code="credit_note")
        if invoice.status != Invoice.Status.SUCCESSFUL:
            raise Conflict(
                _("Only paid invoices are refunded; correct an unpaid one by reissuing it."), code="not_paid"
            )
        payment = invoice.payments.filter(status=Payment.Status.SUCCESSFUL).first()
        if (
            invoice.payment_method != Invoice.PaymentMethod.CARD
            or payment is None
            or not payment.stripe_payment_intent_id
        ):
            raise ApplicationError(
                _(
                    "Only invoices paid by card are refunded through Stripe; for a bank transfer, "
                    "issue a credit note and return the money by transfer."
                ),
                code="not_card",
            )
        left = refundable_amount(invoice)
        amount = left if amount_minor is None else amount_minor
        if not isinstance(amount, int) or amount <= 0 or amount > left:
            raise ApplicationError(
                _("The refund must be between %(min)s and %(max)s (paid, less earlier refunds).")
                % {"min": format_money(1, invoice.currency), "max": format_money(left, invoice.currency)},
                code="bad_amount",
            )
        tax = _tax_share(invoice, amount, left)
        if amount - tax < 1:
            raise ApplicationError(
                _("Refund at least the smallest amount that carries no more than its own tax."),
                code="bad_amount",
            )
        credited = -(
            Invoice.objects.filter(source_key__startswith=f"credit-note-{invoice.pk}-").aggregate(
                total=Sum("usage_amount")
            )["total"]
            or 0
        )
        if amount - tax > invoice.usage_amount - credited:
            raise ApplicationError(
                _("Credit notes already cover this invoice; the refund would exceed it."), code="bad_amount"
            )
        number = invoice.refunds.count() + 1
        refund = Refund.objects.create(
            tenant=invoice.tenant,
            invoice=invoice,
            payment=payment,
            amount_minor=amount,
            tax_minor=tax,
            currency=invoice.currency,
            reason=reason[:300],
            idempotency_key=f"invoice-{invoice.pk}-refund-{number}",
            created_by=actor,
        )
    return refund_send(refund=refund, actor=actor)


def _tax_share(invoice, amount: int, left: int) -> int:
    """The tax inside a tax-included refund: the rest of the invoice's tax for the last refund (so refunds add
    up to the invoice exactly), otherwise amount × rate / (1 + rate), rounded once."""
    tax_taken = (
        invoice.refunds.filter(status__in=_OPEN_REFUNDS).aggregate(total=Sum("tax_minor"))["total"] or 0
    )
    tax_left = invoice.tax_amount - tax_taken
    if amount == left:
        return tax_left
    rate = invoice.tax_rate
    return max(0, min(tax_left, round_minor(Decimal(amount) * rate / (1 + rate))))


def refund_send(*, refund: Refund, actor=None) -> Refund:
    """Send a pending refund to Stripe (again, with the same key, when its answer was lost) and record it."""
    try:
        with transaction.atomic():
            locked = (
                Refund.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("payment", "invoice", "tenant")
                .filter(pk=refund.pk)
                .first()
            )
            if locked is None or locked.status != Refund.Status.PENDING:
                return locked or refund
            try:
                result = stripe_gateway.refund_create(
                    payment_intent_id=locked.payment.stripe_payment_intent_id,
                    amount_minor=locked.amount_minor,
                    idempotency_key=locked.idempotency_key,
                    metadata={
                        "refund": str(locked.pk),
                        "invoice": str(locked.invoice_id),
                        "tenant": locked.tenant.slug,
                    },
                )
            except stripe_gateway.RefundRefused as exc:
                return _refund_set(locked, status=Refund.Status.FAILED, failure_message=exc.message)
            return _refund_set(locked, status=result["status"], stripe_refund_id=result["id"], actor=actor)
    except stripe_gateway.PaymentGatewayError as exc:
        logger.warning(
            "Refund %s: outcome unknown (%s); the sweeper sends it again", refund.idempotency_key, exc.message
        )
        return Refund.objects.get(pk=refund.pk)


def _refund_set(
    refund: Refund, *, status: str, stripe_refund_id: str | None = None, failure_message: str = "", actor=None
) -> Refund:
    """The one transition function for Refund.status (within the caller's transaction and the refund's lock).
    A refund that succeeds raises the invoice's refunded amount and gets its credit note, once."""
    status = {
        "succeeded": Refund.Status.SUCCEEDED,
        "failed": Refund.Status.FAILED,
        "canceled": Refund.Status.FAILED,
    }.get(status, status)
    if refund.status == Refund.Status.SUCCEEDED:
        return refund
    if stripe_refund_id:
        refund.stripe_refund_id = stripe_refund_id
    if status not in Refund.Status.values:
        status = Refund.Status.PENDING  # Stripe's "pending" / "requires_action": not final yet
    refund.status = status
    refund.failure_message = failure_message
    refund.save(update_fields=["status", "stripe_refund_id", "failure_message", "updated_at"])
    if status == Refund.Status.SUCCEEDED:
        invoice = (
            Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=refund.invoice_id)
        )
        Invoice.objects.filter(pk=invoice.pk).update(
            refunded_amount=F("refunded_amount") + refund.amount_minor
        )
        note = credit_note_issue(
            invoice=invoice,
            amount=refund.amount_minor - refund.tax_minor,
            reason=refund.reason,
            actor=actor,
            refund=refund,
        )
        refund.credit_note = note
        refund.save(update_fields=["credit_note", "updated_at"])
        audit_record(
            action="invoice.refunded",
            tenant=invoice.tenant,
            actor=actor,
            data={
                "number": invoice.number,
                "amount": refund.amount_minor,
                "currency": refund.currency,
                "credit_note": note.number,
                "refund": refund.idempotency_key,
            },
        )
        invoice.refresh_from_db()
        transaction.on_commit(lambda: notify_refunded(invoice=invoice, refund=refund))
    return refund


def refunds_resume() -> int:
    """Sweeper: send again the refunds whose answer was lost (pending)."""
    pending = list(Refund.objects.filter(status=Refund.Status.PENDING).order_by("pk"))
    for refund in pending:
        refund_send(refund=refund)
    return len(pending)


def on_charge_refunded(obj: dict) -> None:
    """A refund happened at Stripe: finish ours, or record one made in the Stripe dashboard (with its credit
    note). Stripe's list of the charge's refunds is the truth; this event's body is only the trigger."""
    from payments.charging.attempts import PaymentMismatch

    payment = (
        Payment.objects.filter(
            stripe_payment_intent_id=obj.get("payment_intent") or "", status=Payment.Status.SUCCESSFUL
        )
        .select_related("invoice")
        .first()
    )
    if payment is None or payment.invoice_id is None:
        return
    for remote in stripe_gateway.refunds_list(payment_intent_id=payment.stripe_payment_intent_id):
        local = Refund.objects.filter(stripe_refund_id=remote["id"]).first()
        if local is None and str(remote["metadata"].get("refund") or "").isdigit():
            local = Refund.objects.filter(pk=remote["metadata"]["refund"], payment=payment).first()
        if local is not None:
            if local.status == Refund.Status.PENDING:
                locked = Refund.objects.select_for_update(of=("self",)).get(pk=local.pk)
                _refund_set(locked, status=remote["status"], stripe_refund_id=remote["id"])
            continue
        if remote["status"] != "succeeded":
            continue
        invoice = Invoice.objects.select_for_update(of=("self",)).get(pk=payment.invoice_id)
        left = refundable_amount(invoice)
        if remote["currency"] != invoice.currency or remote["amount"] > left:
            raise PaymentMismatch(
                f"Refund {remote['id']} of {remote['amount']} {remote['currency']} exceeds what is "
                f"left to refund on invoice {invoice.number} ({left} {invoice.currency})."
            )
        refund = Refund.objects.create(
            tenant_id=invoice.tenant_id,
            invoice=invoice,
            payment=payment,
            amount_minor=remote["amount"],
            tax_minor=_tax_share(invoice, remote["amount"], left),
            currency=invoice.currency,
            reason="Refunded in the Stripe dashboard",
            idempotency_key=f"stripe-{remote['id']}",
        )
        _refund_set(refund, status=remote["status"], stripe_refund_id=remote["id"])
