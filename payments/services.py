import json
import logging
import traceback as traceback_module

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

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
    stripe_gateway.customer_update(
        customer_id=account.stripe_customer_id, name=name, email=email,
        idempotency_key=f"customer-{account.stripe_customer_id}-update-{name}-{email}"[:255],
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
    (and only retries the Stripe call if the first attempt never reached a result). Never raises for a
    decline: the Payment comes back `failed` / `requires_action` with a readable `failure_message`.
    """
    if currency != tenant.currency:
        raise ApplicationError(f"{tenant.name} is billed in {tenant.currency}, not {currency}.", code="wrong_currency")
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                tenant=tenant, amount_minor=amount_minor, currency=currency, idempotency_key=idempotency_key,
                description=description, invoice=invoice,
            )
    except IntegrityError:
        payment = Payment.objects.get(idempotency_key=idempotency_key)
        if payment.tenant_id != tenant.pk:
            raise
        if payment.status != Payment.Status.PENDING or payment.stripe_payment_intent_id:
            return payment
    account = PaymentAccount.objects.filter(tenant=tenant).first()
    card = PaymentMethod.objects.filter(tenant=tenant, is_default=True).first()
    if account is None or card is None:
        return _payment_set(payment, status=Payment.Status.FAILED,
                            failure_message="No card is registered for this payment account.")
    try:
        intent = stripe_gateway.charge_off_session(
            customer_id=account.stripe_customer_id, payment_method_id=card.stripe_payment_method_id,
            amount_minor=amount_minor, currency=currency, idempotency_key=idempotency_key,
            metadata={"tenant": tenant.slug, "payment": str(payment.pk)},
        )
    except stripe_gateway.AuthenticationRequired as exc:
        return _payment_set(payment, status=Payment.Status.REQUIRES_ACTION, failure_message=exc.message,
                            intent_id=exc.extra.get("payment_intent", ""))
    except stripe_gateway.CardDeclined as exc:
        return _payment_set(payment, status=Payment.Status.FAILED, failure_message=exc.message,
                            intent_id=exc.extra.get("payment_intent", ""))
    # Stripe unreachable etc. propagate: the row stays pending and the same key can be retried safely.
    return _payment_set(payment, status=intent["status"], failure_message=intent["failure_message"],
                        intent_id=intent["id"])


_FINAL = {Payment.Status.SUCCESSFUL}


def _payment_set(payment: Payment, *, status: str, failure_message: str = "", intent_id: str = "") -> Payment:
    """The one transition function for Payment.status: locked, and a successful payment stays successful."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if intent_id and not payment.stripe_payment_intent_id:
            payment.stripe_payment_intent_id = intent_id
        if payment.status not in _FINAL:
            payment.status = status
            payment.failure_message = failure_message if status != Payment.Status.SUCCESSFUL else ""
        payment.save()
    return payment


def payment_refresh_from_stripe(*, payment: Payment) -> Payment:
    if not payment.stripe_payment_intent_id:
        return payment
    intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=payment.stripe_payment_intent_id)
    payment = _payment_set(payment, status=intent["status"], failure_message=intent["failure_message"])
    _settle_invoice(payment)
    return payment


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
    events arrive in does not matter and running one twice changes nothing."""
    data = json.loads(event.raw_body)
    handler = _HANDLERS.get(event.type)
    try:
        if handler is None:
            status = StripeEvent.Status.IGNORED
        else:
            with transaction.atomic():
                handler(data["data"]["object"])
            status = StripeEvent.Status.PROCESSED
        tb = ""
    except Exception:  # noqa: BLE001 - any failure is kept with its traceback for reprocessing
        logger.exception("Stripe event %s (%s) failed", event.stripe_event_id, event.type)
        status, tb = StripeEvent.Status.FAILED, traceback_module.format_exc()
    StripeEvent.objects.filter(pk=event.pk).update(
        status=status, traceback=tb, attempts=event.attempts + 1,
        processed_at=clock.now() if status != StripeEvent.Status.FAILED else None,
    )
    event.refresh_from_db()
    return event


def _tenant_for_customer(customer_id):
    account = PaymentAccount.objects.select_related("tenant").filter(stripe_customer_id=customer_id or "").first()
    return account.tenant if account else None


def _on_payment_intent(obj):
    payment = Payment.objects.filter(stripe_payment_intent_id=obj["id"]).first()
    if payment is None:
        payment_pk = (obj.get("metadata") or {}).get("payment")
        payment = Payment.objects.filter(pk=payment_pk).first() if str(payment_pk or "").isdigit() else None
        if payment is not None and payment.tenant != _tenant_for_customer(obj.get("customer")):
            payment = None
    if payment is None:
        return
    intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=obj["id"])
    payment = _payment_set(payment, status=intent["status"], failure_message=intent["failure_message"],
                           intent_id=obj["id"])
    _settle_invoice(payment)


def _settle_invoice(payment: Payment) -> None:
    """A payment that succeeded outside the charge run (3-D Secure finished, webhook, reconcile) pays its invoice."""
    if payment.invoice_id and payment.status == Payment.Status.SUCCESSFUL:
        from .billing_cycle import invoice_paid_by_payment

        invoice_paid_by_payment(payment=payment)


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


_HANDLERS = {
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
    payments = list(Payment.objects.exclude(stripe_payment_intent_id="").exclude(status=Payment.Status.SUCCESSFUL))
    for payment in payments:
        try:
            intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=payment.stripe_payment_intent_id)
        except ApplicationError as exc:
            errors.append(f"payment {payment.idempotency_key}: {exc.message}")
            continue
        if intent["status"] != payment.status:
            drift.append(f"payment {payment.idempotency_key}: {payment.status} locally, {intent['status']} at Stripe")
            if fix:
                _payment_set(payment, status=intent["status"], failure_message=intent["failure_message"])
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
