"""One charge attempt at Stripe: the Payment row is committed before Stripe is called, sent under its
row lock, and its outcome checked against the PaymentIntent (writes)."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from billing_portal.common.exceptions import ApplicationError
from payments.charging import gateway as stripe_gateway
from payments.models import (
    Payment,
    PaymentAccount,
    PaymentMethod,
)


def payment_charge_off_session(
    *, tenant, amount_minor: int, currency: str, idempotency_key: str, description: str = "", invoice=None
) -> Payment:
    """Charge the tenant's default card once per `idempotency_key` (e.g. `invoice-12-attempt-1`).

    The Payment row is committed before Stripe is called; calling again with the same key returns the row
    (and, when the first call's outcome is unknown, finds out what became of it: see `payment_send`). Never
    raises for a decline: the Payment comes back `failed` / `requires_action` with a readable `failure_message`.
    Raises StripeUnavailable when Stripe cannot be reached (the row stays pending and is safe to retry).
    """
    if currency != tenant.currency:
        raise ApplicationError(
            _("%(tenant)s is billed in %(currency)s, not %(other)s.")
            % {"tenant": tenant.name, "currency": tenant.currency, "other": currency},
            code="wrong_currency",
        )
    payment, created = payment_attempt_create(
        tenant=tenant,
        amount_minor=amount_minor,
        currency=currency,
        idempotency_key=idempotency_key,
        description=description,
        invoice=invoice,
    )
    if payment.status != Payment.Status.PENDING:
        return payment
    with transaction.atomic():
        locked = payment_lock_for_send(payment=payment)
        if locked is None:  # another process is talking to Stripe about it right now
            return payment
        return payment_send(payment=locked, resume=not created)


def payment_attempt_create(
    *, tenant, amount_minor: int, currency: str, idempotency_key: str, description: str = "", invoice=None
) -> tuple[Payment, bool]:
    """The attempt row, committed before Stripe hears of it: (payment, created). The same key returns the
    existing row. The card is fixed now, so that a resumed attempt sends Stripe the very same request."""
    card = PaymentMethod.objects.filter(tenant=tenant, is_default=True).first()
    try:
        with transaction.atomic():
            return Payment.objects.create(
                tenant=tenant,
                amount_minor=amount_minor,
                currency=currency,
                idempotency_key=idempotency_key,
                description=description,
                invoice=invoice,
                stripe_payment_method_id=card.stripe_payment_method_id if card else "",
            ), True
    except IntegrityError:
        payment = Payment.objects.filter(idempotency_key=idempotency_key).first()
        if payment is None:  # not the key: the invoice already has a live attempt
            raise ApplicationError(
                _("This invoice already has a payment in progress or completed."),
                code="payment_in_progress",
                status=409,
            ) from None
        if payment.tenant_id != tenant.pk:
            raise
        return payment, False


def payment_lock_for_send(*, payment: Payment) -> Payment | None:
    """Within the caller's transaction: lock the attempt for a Stripe call, or None when another process holds
    it (that process is calling Stripe; PostgreSQL releases the lock if it dies)."""
    return (
        Payment.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("tenant")
        .filter(pk=payment.pk)
        .first()
    )


def payment_send(*, payment: Payment, resume: bool) -> Payment:
    """Within the caller's transaction and the attempt's row lock (`payment_lock_for_send`): send a pending
    attempt to Stripe, or find out what became of it, and record the outcome.

    `resume` (the attempt existed before this call: a retried task, a second run, the sweeper): first look the
    PaymentIntent up by the metadata the first call sent (Stripe's list is consistent, its replay of an
    idempotency key lasts only 24 hours); only when Stripe has none is the charge sent, with the same key and
    parameters, which Stripe answers with the first result if the first call did reach it after all.
    Stripe unreachable propagates (StripeUnavailable): nothing is recorded and the attempt stays pending.
    """
    if payment.status != Payment.Status.PENDING:
        return payment
    if payment.stripe_payment_intent_id or resume:
        intent = _payment_intent_of(payment)
        if intent is not None:
            _payment_check_intent(payment, intent)
            return _payment_set(
                payment,
                status=intent["status"],
                failure_message=intent["failure_message"],
                intent_id=intent["id"],
            )
    account = PaymentAccount.objects.filter(tenant=payment.tenant).first()
    if account is None:
        return _payment_set(
            payment,
            status=Payment.Status.FAILED,
            failure_message=_("No payment account exists for this tenant."),
        )
    if not payment.stripe_payment_method_id:
        return _payment_set(
            payment,
            status=Payment.Status.FAILED,
            failure_message=_("No card is registered for this payment account."),
        )
    try:
        intent = stripe_gateway.charge_off_session(
            customer_id=account.stripe_customer_id,
            payment_method_id=payment.stripe_payment_method_id,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            idempotency_key=payment.idempotency_key,
            metadata=payment_metadata(payment),
        )
    except stripe_gateway.AuthenticationRequired as exc:
        return _payment_set(
            payment,
            status=Payment.Status.REQUIRES_ACTION,
            failure_message=exc.message,
            intent_id=exc.extra.get("payment_intent", ""),
        )
    except stripe_gateway.CardDeclined as exc:
        return _payment_set(
            payment,
            status=Payment.Status.FAILED,
            failure_message=exc.message,
            intent_id=exc.extra.get("payment_intent", ""),
        )
    except stripe_gateway.StripeObjectMissing:
        # Stripe does not know the customer or the card (deleted at Stripe): nothing was charged.
        return _payment_set(
            payment,
            status=Payment.Status.FAILED,
            failure_message=_("The card on file no longer exists at Stripe. Register a card again."),
        )
    return _payment_set(
        payment, status=intent["status"], failure_message=intent["failure_message"], intent_id=intent["id"]
    )


def payment_metadata(payment: Payment) -> dict:
    """What the portal tells Stripe about an attempt; webhooks and lookups are checked against it."""
    return {
        "tenant": payment.tenant.slug,
        "payment": str(payment.pk),
        "invoice": str(payment.invoice_id or ""),
    }


_FINAL = {Payment.Status.SUCCESSFUL}


def _payment_set(payment: Payment, *, status: str, failure_message: str = "", intent_id: str = "") -> Payment:
    """The one transition function for Payment.status: locked, and a successful payment stays successful.
    (A late success of an attempt whose invoice has since been paid by another one cannot be recorded: the
    live-attempt constraint refuses it, and the caller flags it for ops.)"""
    with transaction.atomic():
        payment = Payment.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=payment.pk)
        if intent_id and not payment.stripe_payment_intent_id:
            payment.stripe_payment_intent_id = intent_id
        if payment.status not in _FINAL:
            payment.status = status
            payment.failure_message = failure_message if status != Payment.Status.SUCCESSFUL else ""
        try:
            with transaction.atomic():
                payment.save()
        except IntegrityError:
            raise PaymentMismatch(
                f"Payment {payment.idempotency_key} became {status} at Stripe, but its invoice already has another "
                "live or successful payment: the customer may have been charged twice. Refund one in Stripe."
            ) from None
    return payment


def payment_refresh_from_stripe(*, payment: Payment) -> Payment:
    """Ask Stripe what became of an attempt (admin, the 3-D Secure page) and settle its invoice: an attempt
    without a PaymentIntent id is looked up by its metadata, or sent again with its own key."""
    from payments.charging.charge import payment_settle_invoice

    with transaction.atomic():
        locked = payment_lock_for_send(payment=payment)
        if locked is None:
            raise ApplicationError(
                _("This payment is being processed right now; try again in a minute."),
                code="payment_in_flight",
                status=409,
            )
        before = locked.status
        if before == Payment.Status.PENDING:
            locked = payment_send(payment=locked, resume=True)
        elif before != Payment.Status.SUCCESSFUL and locked.stripe_payment_intent_id:
            intent = _payment_intent_of(locked)
            _payment_check_intent(locked, intent)
            locked = _payment_set(locked, status=intent["status"], failure_message=intent["failure_message"])
        if locked.invoice_id:
            payment_settle_invoice(payment=locked, previous_status=before)
    return locked


def _payment_intent_of(payment: Payment) -> dict | None:
    """The attempt's PaymentIntent at Stripe (by id, or by the metadata sent), None when Stripe has none."""
    if payment.stripe_payment_intent_id:
        return stripe_gateway.payment_intent_retrieve(payment_intent_id=payment.stripe_payment_intent_id)
    account = PaymentAccount.objects.filter(tenant_id=payment.tenant_id).first()
    if account is None:
        return None
    return stripe_gateway.payment_intent_find(
        customer_id=account.stripe_customer_id,
        metadata={"payment": str(payment.pk)},
        created_since=int(payment.created_at.timestamp()) - 300,
    )


class PaymentMismatch(ApplicationError):
    """A PaymentIntent that does not match the attempt it claims to be: never applied, flagged for ops."""

    default_code = "payment_mismatch"
    default_status = 409


def _payment_check_intent(payment: Payment, intent: dict) -> None:
    account = PaymentAccount.objects.filter(tenant_id=payment.tenant_id).first()
    problems = []
    if intent["amount"] != payment.amount_minor:
        problems.append(f"amount {intent['amount']} != {payment.amount_minor}")
    if intent["currency"] != payment.currency:
        problems.append(f"currency {intent['currency']} != {payment.currency}")
    if account is None or intent["customer"] != account.stripe_customer_id:
        problems.append(f"customer {intent['customer']} is not this tenant's payment account")
    if (intent.get("metadata") or {}).get("payment") != str(payment.pk):
        problems.append(f"metadata payment {(intent.get('metadata') or {}).get('payment')!r} != {payment.pk}")
    if payment.stripe_payment_intent_id and intent["id"] != payment.stripe_payment_intent_id:
        problems.append(
            f"PaymentIntent {intent['id']} is not the attempt's {payment.stripe_payment_intent_id}"
        )
    if problems:
        raise PaymentMismatch(
            f"PaymentIntent {intent['id']} does not match payment {payment.idempotency_key}: "
            + "; ".join(problems)
            + "."
        )
