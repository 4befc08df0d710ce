import json
import logging
import traceback as traceback_module

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q

from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError

from . import stripe_gateway
from .models import (
    Credit,
    Payment,
    PaymentAccount,
    PaymentMethod,
    PaymentMethodType,
    PaymentSettings,
    StripeEvent,
)


def credit_grant(*, tenant, name, amount_minor, currency, source, source_key, expires_at=None) -> Credit:
    """Grant credit once per `source_key`; granting again returns the existing credit."""
    if amount_minor <= 0:
        raise ApplicationError("A credit must be a positive amount.", code="bad_amount")
    if currency != tenant.currency:
        raise ApplicationError(
            f"This credit is in {currency}, but {tenant.name} is billed in {tenant.currency}.", code="wrong_currency"
        )
    try:
        with transaction.atomic():
            return Credit.objects.create(
                tenant=tenant, name=name, amount_charged=amount_minor, currency=currency, source=source,
                source_key=source_key, expires_at=expires_at, registered_at=clock.now(),
            )
    except IntegrityError:
        existing = Credit.objects.get(source_key=source_key)
        if existing.tenant_id != tenant.pk:
            raise
        return existing


# --- payment account (Stripe customer) -------------------------------------------------------------------

logger = logging.getLogger(__name__)


def _clean_payer(name: str, email: str) -> tuple[str, str]:
    name = (name or "").strip()
    email = (email or "").strip()
    if not name:
        raise ApplicationError("Enter the payer's name.", code="bad_name", extra={"field": "name"})
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError("Enter a valid e-mail address.", code="bad_email", extra={"field": "email"}) from None
    return name, email


def payment_account_create(*, tenant, name: str, email: str) -> PaymentAccount:
    """Create the Stripe customer for the tenant and keep only its id (plus payer name and e-mail)."""
    name, email = _clean_payer(name, email)
    existing = PaymentAccount.objects.filter(tenant=tenant).first()
    if existing is not None:
        return existing
    customer = stripe_gateway.customer_create(
        name=name, email=email, tenant_slug=tenant.slug, idempotency_key=f"tenant-{tenant.pk}-customer-create"
    )
    try:
        with transaction.atomic():
            return PaymentAccount.objects.create(
                tenant=tenant, stripe_customer_id=customer["id"], name=name, email=email
            )
    except IntegrityError:
        return PaymentAccount.objects.get(tenant=tenant)


def payment_account_link(*, tenant, stripe_customer_id: str) -> PaymentAccount:
    """Sales-led: link an existing Stripe customer (ops, in Django admin); name and e-mail come from Stripe."""
    stripe_customer_id = (stripe_customer_id or "").strip()
    if not stripe_customer_id.startswith("cus_"):
        raise ApplicationError("A Stripe customer ID starts with 'cus_'.", code="bad_customer_id")
    customer = stripe_gateway.customer_retrieve(customer_id=stripe_customer_id)
    if customer["deleted"]:
        raise ApplicationError("That Stripe customer has been deleted.", code="customer_deleted")
    other = PaymentAccount.objects.filter(stripe_customer_id=stripe_customer_id).exclude(tenant=tenant).first()
    if other is not None:
        raise ApplicationError(f"That Stripe customer is already linked to {other.tenant}.", code="customer_in_use")
    with transaction.atomic():
        account, _ = PaymentAccount.objects.select_for_update().update_or_create(
            tenant=tenant,
            defaults={"stripe_customer_id": stripe_customer_id, "name": customer["name"] or tenant.name,
                      "email": customer["email"]},
        )
    payment_methods_sync(tenant=tenant)
    return account


def payment_account_update(*, account: PaymentAccount, name: str, email: str) -> PaymentAccount:
    """Change payer name / e-mail at Stripe, then locally."""
    name, email = _clean_payer(name, email)
    # The key names this edit (the account's last change), not the values: going back to an earlier name within
    # Stripe's 24 hours must reach Stripe, not replay the first request.
    version = int(account.updated_at.timestamp() * 1_000_000)
    stripe_gateway.customer_update(
        customer_id=account.stripe_customer_id, name=name, email=email,
        idempotency_key=f"customer-{account.stripe_customer_id}-update-{version}-{name}-{email}"[:255],
    )
    PaymentAccount.objects.filter(pk=account.pk).update(name=name, email=email, updated_at=clock.now())
    account.refresh_from_db()
    return account


def payment_account_require(*, tenant) -> PaymentAccount:
    account = PaymentAccount.objects.filter(tenant=tenant).first()
    if account is None:
        raise ApplicationError("Create a payment account first.", code="no_payment_account", status=409)
    return account


def customer_portal_url(*, tenant, return_url: str) -> str:
    account = payment_account_require(tenant=tenant)
    return stripe_gateway.billing_portal_url(
        customer_id=account.stripe_customer_id, tenant_slug=tenant.slug, return_url=return_url
    )


# --- cards -----------------------------------------------------------------------------------------------


def card_setup_start(*, tenant, attempt: str) -> dict:
    """A SetupIntent for Stripe Elements; `attempt` is a nonce from the page so a double submit reuses it."""
    account = payment_account_require(tenant=tenant)
    return stripe_gateway.setup_intent_create(
        customer_id=account.stripe_customer_id, idempotency_key=f"tenant-{tenant.pk}-setup-{attempt}"[:255]
    )


def card_setup_complete(*, tenant, setup_intent_id: str) -> PaymentMethod:
    """After Stripe.js confirmed the SetupIntent: check it with Stripe, attach the card, make it the default."""
    account = payment_account_require(tenant=tenant)
    intent = stripe_gateway.setup_intent_retrieve(setup_intent_id=setup_intent_id)
    if intent["customer"] != account.stripe_customer_id:
        raise ApplicationError("This card setup does not belong to your payment account.", code="not_yours", status=404)
    if intent["status"] != "succeeded" or not intent["payment_method"]:
        raise ApplicationError("The card was not confirmed. Please try again.", code="setup_incomplete", status=409)
    return _card_attach_as_default(tenant=tenant, account=account, payment_method_id=intent["payment_method"])


def _card_attach_as_default(*, tenant, account, payment_method_id: str) -> PaymentMethod:
    pm = stripe_gateway.payment_method_retrieve(payment_method_id=payment_method_id)
    if pm["customer"] not in (None, account.stripe_customer_id):
        raise ApplicationError("This card belongs to another payment account.", code="not_yours", status=404)
    if pm["customer"] is None:
        pm = stripe_gateway.payment_method_attach(
            payment_method_id=payment_method_id, customer_id=account.stripe_customer_id,
            idempotency_key=f"pm-{payment_method_id}-attach-{account.stripe_customer_id}",
        )
    stripe_gateway.customer_update(
        customer_id=account.stripe_customer_id, default_payment_method=payment_method_id,
        idempotency_key=f"customer-{account.stripe_customer_id}-default-{payment_method_id}",
    )
    # Replacing: the previous cards are detached at Stripe so only one card is on file.
    for old in PaymentMethod.objects.filter(tenant=tenant).exclude(stripe_payment_method_id=payment_method_id):
        _detach_quietly(old.stripe_payment_method_id)
    return payment_methods_sync(tenant=tenant, default_id=payment_method_id)


def _detach_quietly(payment_method_id: str) -> None:
    try:
        stripe_gateway.payment_method_detach(
            payment_method_id=payment_method_id, idempotency_key=f"pm-{payment_method_id}-detach"
        )
    except stripe_gateway.StripeObjectMissing:
        pass


def card_remove(*, tenant, payment_method: PaymentMethod) -> None:
    if payment_method.tenant_id != tenant.pk:
        raise ApplicationError("No such card.", code="not_found", status=404)
    account = payment_account_require(tenant=tenant)
    _detach_quietly(payment_method.stripe_payment_method_id)
    stripe_gateway.customer_update(
        customer_id=account.stripe_customer_id, clear_default_payment_method=True,
        idempotency_key=f"customer-{account.stripe_customer_id}-default-clear-{payment_method.stripe_payment_method_id}",
    )
    payment_methods_sync(tenant=tenant)


def payment_methods_sync(*, tenant, default_id: str | None = None) -> PaymentMethod | None:
    """Make the local card summaries match Stripe (Stripe is the source of truth). Returns the default card."""
    account = PaymentAccount.objects.filter(tenant=tenant).first()
    remote = []
    if account is not None:
        remote = stripe_gateway.payment_methods_list(customer_id=account.stripe_customer_id)
        if default_id is None:
            default_id = stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)[
                "default_payment_method"
            ]
    if remote and default_id not in {pm["id"] for pm in remote}:
        default_id = remote[0]["id"]
    with transaction.atomic():
        list(PaymentMethod.objects.select_for_update().filter(tenant=tenant))
        PaymentMethod.objects.filter(tenant=tenant).exclude(
            stripe_payment_method_id__in=[pm["id"] for pm in remote]
        ).delete()
        for pm in remote:
            PaymentMethod.objects.update_or_create(
                stripe_payment_method_id=pm["id"],
                defaults={"tenant": tenant, "brand": pm["brand"], "last4": pm["last4"], "exp_month": pm["exp_month"],
                          "exp_year": pm["exp_year"], "is_default": pm["id"] == default_id},
            )
    return PaymentMethod.objects.filter(tenant=tenant, is_default=True).first()


def payment_method_choose(*, tenant, method: str, billing_address: str = "") -> PaymentSettings:
    """Card or invoice payment (bank transfer). Invoice payment only in Japan and with a billing address."""
    from .selectors import bank_transfer_unavailable_reason

    if method not in PaymentMethodType.values:
        raise ApplicationError("Choose card or invoice payment.", code="bad_method")
    billing_address = (billing_address or "").strip()
    if method == PaymentMethodType.BANK_TRANSFER:
        reason = bank_transfer_unavailable_reason(tenant=tenant)
        if reason:
            raise ApplicationError(reason, code="bank_transfer_unavailable")
        if not billing_address:
            raise ApplicationError("Invoice payment needs a billing address.", code="billing_address_required",
                                   extra={"field": "billing_address"})
    with transaction.atomic():
        settings_, _ = PaymentSettings.objects.select_for_update().get_or_create(tenant=tenant)
        settings_.method = method
        if billing_address:
            settings_.billing_address = billing_address
        settings_.save()
    return settings_


# --- charging --------------------------------------------------------------------------------------------


def payment_charge_off_session(*, tenant, amount_minor: int, currency: str, idempotency_key: str,
                               description: str = "", invoice=None) -> Payment:
    """Charge the tenant's default card once per `idempotency_key` (e.g. `invoice-12-attempt-1`).

    The Payment row is committed before Stripe is called; calling again with the same key returns the row
    (and, when the first call's outcome is unknown, finds out what became of it: see `payment_send`). Never
    raises for a decline: the Payment comes back `failed` / `requires_action` with a readable `failure_message`.
    Raises StripeUnavailable when Stripe cannot be reached (the row stays pending and is safe to retry).
    """
    if currency != tenant.currency:
        raise ApplicationError(f"{tenant.name} is billed in {tenant.currency}, not {currency}.", code="wrong_currency")
    payment, created = payment_attempt_create(
        tenant=tenant, amount_minor=amount_minor, currency=currency, idempotency_key=idempotency_key,
        description=description, invoice=invoice,
    )
    if payment.status != Payment.Status.PENDING:
        return payment
    with transaction.atomic():
        locked = payment_lock_for_send(payment=payment)
        if locked is None:  # another process is talking to Stripe about it right now
            return payment
        return payment_send(payment=locked, resume=not created)


def payment_attempt_create(*, tenant, amount_minor: int, currency: str, idempotency_key: str,
                           description: str = "", invoice=None) -> tuple[Payment, bool]:
    """The attempt row, committed before Stripe hears of it: (payment, created). The same key returns the
    existing row. The card is fixed now, so that a resumed attempt sends Stripe the very same request."""
    card = PaymentMethod.objects.filter(tenant=tenant, is_default=True).first()
    try:
        with transaction.atomic():
            return Payment.objects.create(
                tenant=tenant, amount_minor=amount_minor, currency=currency, idempotency_key=idempotency_key,
                description=description, invoice=invoice,
                stripe_payment_method_id=card.stripe_payment_method_id if card else "",
            ), True
    except IntegrityError:
        payment = Payment.objects.filter(idempotency_key=idempotency_key).first()
        if payment is None:  # not the key: the invoice already has a live attempt
            raise ApplicationError("This invoice already has a payment in progress or completed.",
                                   code="payment_in_progress", status=409) from None
        if payment.tenant_id != tenant.pk:
            raise
        return payment, False


def payment_lock_for_send(*, payment: Payment) -> Payment | None:
    """Within the caller's transaction: lock the attempt for a Stripe call, or None when another process holds
    it (that process is calling Stripe; PostgreSQL releases the lock if it dies)."""
    return (Payment.objects.select_for_update(skip_locked=True, of=("self",)).select_related("tenant")
            .filter(pk=payment.pk).first())


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
            return _payment_set(payment, status=intent["status"], failure_message=intent["failure_message"],
                                intent_id=intent["id"])
    account = PaymentAccount.objects.filter(tenant=payment.tenant).first()
    if account is None:
        return _payment_set(payment, status=Payment.Status.FAILED,
                            failure_message="No payment account exists for this tenant.")
    if not payment.stripe_payment_method_id:
        return _payment_set(payment, status=Payment.Status.FAILED,
                            failure_message="No card is registered for this payment account.")
    try:
        intent = stripe_gateway.charge_off_session(
            customer_id=account.stripe_customer_id, payment_method_id=payment.stripe_payment_method_id,
            amount_minor=payment.amount_minor, currency=payment.currency, idempotency_key=payment.idempotency_key,
            metadata=payment_metadata(payment),
        )
    except stripe_gateway.AuthenticationRequired as exc:
        return _payment_set(payment, status=Payment.Status.REQUIRES_ACTION, failure_message=exc.message,
                            intent_id=exc.extra.get("payment_intent", ""))
    except stripe_gateway.CardDeclined as exc:
        return _payment_set(payment, status=Payment.Status.FAILED, failure_message=exc.message,
                            intent_id=exc.extra.get("payment_intent", ""))
    except stripe_gateway.StripeObjectMissing:
        # Stripe does not know the customer or the card (deleted at Stripe): nothing was charged.
        return _payment_set(payment, status=Payment.Status.FAILED,
                            failure_message="The card on file no longer exists at Stripe. Register a card again.")
    return _payment_set(payment, status=intent["status"], failure_message=intent["failure_message"],
                        intent_id=intent["id"])


def payment_metadata(payment: Payment) -> dict:
    """What the portal tells Stripe about an attempt; webhooks and lookups are checked against it."""
    return {"tenant": payment.tenant.slug, "payment": str(payment.pk), "invoice": str(payment.invoice_id or "")}


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
    from .billing_cycle import payment_settle_invoice

    with transaction.atomic():
        locked = payment_lock_for_send(payment=payment)
        if locked is None:
            raise ApplicationError("This payment is being processed right now; try again in a minute.",
                                   code="payment_in_flight", status=409)
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
        customer_id=account.stripe_customer_id, metadata={"payment": str(payment.pk)},
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
        problems.append(f"PaymentIntent {intent['id']} is not the attempt's {payment.stripe_payment_intent_id}")
    if problems:
        raise PaymentMismatch(f"PaymentIntent {intent['id']} does not match payment {payment.idempotency_key}: "
                              + "; ".join(problems) + ".")


# --- webhooks --------------------------------------------------------------------------------------------


def stripe_event_receive(*, payload: bytes, signature_header: str | None) -> StripeEvent:
    """Verify, store once by event id, then process. A replayed event is not processed twice."""
    event = stripe_gateway.webhook_event_construct(payload=payload, signature_header=signature_header)
    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                stripe_event_id=event["id"], type=event["type"], stripe_created=int(event.get("created") or 0),
                raw_body=payload.decode("utf-8"), received_at=clock.now(),
            )
    except IntegrityError:
        stored = StripeEvent.objects.get(stripe_event_id=event["id"])
        if stored.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED):
            return stored
    return stripe_event_process(event=stored)


def stripe_event_process(*, event: StripeEvent) -> StripeEvent:
    """Process (or reprocess) a stored event. Handlers re-read the current state from Stripe, so the order
    events arrive in does not matter and running one twice changes nothing.

    An event that contradicts our records (a PaymentIntent whose amount, currency, customer or metadata is not
    the attempt's) changes nothing and is kept as `flagged` for ops; one whose handler fails is kept as
    `failed` with its traceback, and the sweeper processes it again."""
    data = json.loads(event.raw_body)
    handler = _HANDLERS.get(event.type)
    reason, tb = "", ""
    try:
        if handler is None:
            status = StripeEvent.Status.IGNORED
        else:
            with transaction.atomic():
                handler(data["data"]["object"])
            status = StripeEvent.Status.PROCESSED
    except PaymentMismatch as exc:
        logger.error("Stripe event %s (%s) flagged: %s", event.stripe_event_id, event.type, exc.message)
        status, reason = StripeEvent.Status.FLAGGED, exc.message
    except Exception:  # noqa: BLE001 - any failure is kept with its traceback for reprocessing
        logger.exception("Stripe event %s (%s) failed", event.stripe_event_id, event.type)
        status, tb = StripeEvent.Status.FAILED, traceback_module.format_exc()
    StripeEvent.objects.filter(pk=event.pk).update(
        status=status, traceback=tb, flag_reason=reason, attempts=event.attempts + 1,
        processed_at=clock.now() if status != StripeEvent.Status.FAILED else None,
    )
    event.refresh_from_db()
    return event


def _tenant_for_customer(customer_id):
    account = PaymentAccount.objects.select_related("tenant").filter(stripe_customer_id=customer_id or "").first()
    return account.tenant if account else None


def _on_payment_intent(obj):
    """A PaymentIntent changed at Stripe: apply it to its attempt, and settle the invoice in the same
    transaction, only if it is exactly the attempt we sent (PaymentMismatch otherwise)."""
    from .billing_cycle import payment_settle_invoice

    intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=obj["id"])  # Stripe's state, not the body's
    payment = Payment.objects.filter(stripe_payment_intent_id=intent["id"]).first()
    if payment is None:
        payment_pk = intent["metadata"].get("payment")
        payment = Payment.objects.filter(pk=payment_pk).first() if str(payment_pk or "").isdigit() else None
    if payment is None:
        return  # not a PaymentIntent of the portal's (made in the Stripe dashboard, say)
    # Waits while a charge of this attempt is in flight; then sees what that charge recorded.
    locked = Payment.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=payment.pk)
    _payment_check_intent(locked, intent)
    before = locked.status
    locked = _payment_set(locked, status=intent["status"], failure_message=intent["failure_message"],
                          intent_id=intent["id"])
    if locked.invoice_id:
        payment_settle_invoice(payment=locked, previous_status=before)


def _on_setup_intent(obj):
    tenant = _tenant_for_customer(obj.get("customer"))
    if tenant is not None:
        payment_methods_sync(tenant=tenant)


def _on_payment_method(obj):
    tenant = _tenant_for_customer(obj.get("customer"))
    if tenant is None:
        local = PaymentMethod.objects.select_related("tenant").filter(stripe_payment_method_id=obj["id"]).first()
        tenant = local.tenant if local else None
    if tenant is not None:
        payment_methods_sync(tenant=tenant)


def _on_customer_updated(obj):
    account = PaymentAccount.objects.filter(stripe_customer_id=obj["id"]).first()
    if account is None:
        return
    customer = stripe_gateway.customer_retrieve(customer_id=obj["id"])
    PaymentAccount.objects.filter(pk=account.pk).update(
        name=customer["name"] or account.name, email=customer["email"] or account.email, updated_at=clock.now()
    )
    payment_methods_sync(tenant=account.tenant, default_id=customer["default_payment_method"])


def _on_charge_refunded(obj):
    from .corrections import on_charge_refunded

    on_charge_refunded(obj)


def _on_dispute(obj):
    from .corrections import on_dispute

    on_dispute(obj)


_HANDLERS = {
    "charge.refunded": _on_charge_refunded,
    "charge.dispute.created": _on_dispute,
    "charge.dispute.updated": _on_dispute,
    "charge.dispute.closed": _on_dispute,
    "charge.dispute.funds_withdrawn": _on_dispute,
    "charge.dispute.funds_reinstated": _on_dispute,
    "payment_intent.succeeded": _on_payment_intent,
    "payment_intent.payment_failed": _on_payment_intent,
    "setup_intent.succeeded": _on_setup_intent,
    "payment_method.attached": _on_payment_method,
    "payment_method.detached": _on_payment_method,
    "customer.updated": _on_customer_updated,
}


# --- reconciliation --------------------------------------------------------------------------------------


def stripe_reconcile(*, fix: bool = False) -> dict:
    """Compare each payment account (name, e-mail, cards) and each unfinished payment with Stripe.

    Stripe is the source of truth; with `fix`, the local copy is brought in line. Returns a report dict.
    """
    drift, errors = [], []
    accounts = list(PaymentAccount.objects.select_related("tenant"))
    for account in accounts:
        tenant = account.tenant
        try:
            customer = stripe_gateway.customer_retrieve(customer_id=account.stripe_customer_id)
            if customer["deleted"]:
                errors.append(f"{tenant.slug}: Stripe customer {account.stripe_customer_id} was deleted at Stripe")
                continue
            for field in ("name", "email"):
                if customer[field] and customer[field] != getattr(account, field):
                    drift.append(f"{tenant.slug}: payment account {field} {getattr(account, field)!r} "
                                 f"!= Stripe {customer[field]!r}")
                    if fix:
                        PaymentAccount.objects.filter(pk=account.pk).update(**{field: customer[field]})
            remote = {pm["id"]: pm for pm in stripe_gateway.payment_methods_list(customer_id=account.stripe_customer_id)}
            local = {pm.stripe_payment_method_id: pm for pm in PaymentMethod.objects.filter(tenant=tenant)}
            for pm_id in remote.keys() - local.keys():
                drift.append(f"{tenant.slug}: card {pm_id} (•••• {remote[pm_id]['last4']}) at Stripe is missing locally")
            for pm_id in local.keys() - remote.keys():
                drift.append(f"{tenant.slug}: card {pm_id} (•••• {local[pm_id].last4}) is no longer at Stripe")
            for pm_id in local.keys() & remote.keys():
                r, loc = remote[pm_id], local[pm_id]
                if (r["last4"], r["exp_month"], r["exp_year"]) != (loc.last4, loc.exp_month, loc.exp_year):
                    drift.append(f"{tenant.slug}: card {pm_id} details differ from Stripe")
            if fix and any(line.startswith(f"{tenant.slug}: card") for line in drift):
                payment_methods_sync(tenant=tenant, default_id=customer["default_payment_method"])
        except ApplicationError as exc:
            errors.append(f"{tenant.slug}: {exc.message}")
    # Unfinished attempts, with or without a PaymentIntent id (one killed before Stripe answered has none: it
    # is found by its metadata). With `fix`, the attempt and its invoice are brought in line.
    payments = list(Payment.objects.select_related("tenant").filter(
        Q(status=Payment.Status.PENDING) | (~Q(stripe_payment_intent_id="") & ~Q(status=Payment.Status.SUCCESSFUL))
    ))
    for payment in payments:
        try:
            intent = _payment_intent_of(payment)
        except ApplicationError as exc:
            errors.append(f"payment {payment.idempotency_key}: {exc.message}")
            continue
        remote = intent["status"] if intent else "not at Stripe"
        if remote != payment.status:
            drift.append(f"payment {payment.idempotency_key}: {payment.status} locally, {remote} at Stripe")
            if fix:
                try:
                    payment_refresh_from_stripe(payment=payment)
                except ApplicationError as exc:
                    errors.append(f"payment {payment.idempotency_key}: {exc.message}")
    return {"accounts": len(accounts), "payments": len(payments), "drift": drift, "errors": errors}


def payments_data_close(*, tenant) -> dict:
    """Unsubscribe, payments side: delete the Stripe customer, then the tenant's payment account, cards, settings and
    unused credits. Invoices, payments and the credits they used are kept (the law requires the records);
    invoices lose the payer's e-mail address. Stripe first: if it fails, nothing local is deleted."""
    account = PaymentAccount.objects.filter(tenant=tenant).first()
    if account is not None:
        stripe_gateway.customer_delete(customer_id=account.stripe_customer_id)
    from .models import CreditApplication, CreditRedemption, Invoice, PaymentSettings

    with transaction.atomic():
        used = set(CreditApplication.objects.filter(credit__tenant=tenant).values_list("credit_id", flat=True))
        unused_credits = Credit.objects.filter(tenant=tenant).exclude(pk__in=used)
        CreditRedemption.objects.filter(tenant=tenant, credit__in=unused_credits).delete()
        counts = {
            "cards": PaymentMethod.objects.filter(tenant=tenant).delete()[0],
            "payment_settings": PaymentSettings.objects.filter(tenant=tenant).delete()[0],
            "payment_account": PaymentAccount.objects.filter(tenant=tenant).delete()[0],
            "credits": unused_credits.delete()[0],
        }
        Invoice.objects.filter(tenant=tenant).update(buyer_email="")
    return counts
