"""Credits: grants, credit codes and their redemption, the order in which credits apply (writes)."""

import secrets

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from billing_portal.common import clock, events
from billing_portal.common.exceptions import ApplicationError
from billing_portal.common.money import format_money
from payments.models import (
    Credit,
    CreditCode,
    CreditRedemption,
)


def credit_grant(*, tenant, name, amount_minor, currency, source, source_key, expires_at=None) -> Credit:
    """Grant credit once per `source_key`; granting again returns the existing credit."""
    if amount_minor <= 0:
        raise ApplicationError(_("A credit must be a positive amount."), code="bad_amount")
    if currency != tenant.currency:
        raise ApplicationError(
            _("This credit is in %(credit_currency)s, but %(tenant)s is billed in %(currency)s.")
            % {"credit_currency": currency, "tenant": tenant.name, "currency": tenant.currency},
            code="wrong_currency",
        )
    try:
        with transaction.atomic():
            return Credit.objects.create(
                tenant=tenant,
                name=name,
                amount_charged=amount_minor,
                currency=currency,
                source=source,
                source_key=source_key,
                expires_at=expires_at,
                registered_at=clock.now(),
            )
    except IntegrityError:
        existing = Credit.objects.get(source_key=source_key)
        if existing.tenant_id != tenant.pk:
            raise
        return existing


# Crockford's base32 without I, L, O, U: nothing to misread. 16 symbols = 80 bits.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


CODE_LENGTH = 16


def credits_in_application_order(*, tenant, at, lock=False):
    """Redeemed credit codes first, earliest expiry first; then the rest of the balance (oldest first)."""
    qs = Credit.objects.filter(
        tenant=tenant, currency=tenant.currency, amount_used__lt=F("amount_charged")
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
    if lock:
        qs = qs.select_for_update()
    return credits_ordered(list(qs))


def credits_usable(credit, *, currency: str, at) -> bool:
    """The filter of `credits_in_application_order`, for credits read in bulk (the set-based monthly run)."""
    return (
        credit.currency == currency
        and credit.amount_used < credit.amount_charged
        and (credit.expires_at is None or credit.expires_at > at)
    )


def credits_ordered(credits):
    """One tenant's usable credits in application order (pure)."""
    codes = sorted(
        (c for c in credits if c.source == Credit.Source.CREDIT_CODE), key=lambda c: (c.expires_at, c.pk)
    )
    rest = sorted(
        (c for c in credits if c.source != Credit.Source.CREDIT_CODE),
        key=lambda c: (c.expires_at is None, c.expires_at or c.registered_at, c.registered_at, c.pk),
    )
    return codes + rest


def normalise_code(raw: str) -> str:
    """What the tenant typed → the stored code: full-width letters and digits folded (NFKC), dashes and spaces
    dropped, upper case."""
    from billing_portal.common.text import normalize_typed

    return "".join(ch for ch in normalize_typed(raw or "").upper() if ch.isascii() and ch.isalnum())


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def credit_code_issue(
    *, name, amount, currency, expires_at, redemption_limit=1, created_by=None
) -> CreditCode:
    if amount <= 0:
        raise ApplicationError(_("The amount must be greater than zero."), code="bad_amount")
    if redemption_limit < 1:
        raise ApplicationError(_("The redemption limit must be at least 1."), code="bad_limit")
    for _attempt in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _position in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                return CreditCode.objects.create(
                    name=name,
                    code=code,
                    amount=amount,
                    currency=currency,
                    expires_at=expires_at,
                    redemption_limit=redemption_limit,
                    created_by=created_by,
                )
        except IntegrityError:
            continue
    raise ApplicationError(_("Could not generate a unique code; try again."))


@transaction.atomic
def credit_code_redeem(*, tenant, code: str, actor=None) -> Credit:
    """Register a credit code for the tenant. Single use per tenant, capped by the code's limit, under concurrency:
    the code row is locked and the (code, tenant) pair is unique in the database."""
    normalised = normalise_code(code)
    credit_code = (
        CreditCode.objects.select_for_update().filter(code=normalised).first() if normalised else None
    )
    if credit_code is None:
        raise ApplicationError(
            _("This credit code is not valid. Check it and try again."), code="unknown_code"
        )
    now = clock.now()
    if credit_code.expires_at <= now:
        raise ApplicationError(
            _("This credit code expired on %(date)s.")
            % {"date": clock.local_text(credit_code.expires_at, tenant.time_zone)},
            code="expired_code",
        )
    if credit_code.currency != tenant.currency:
        raise ApplicationError(
            _("This credit code is in %(code_currency)s, but %(tenant)s is billed in %(currency)s.")
            % {"code_currency": credit_code.currency, "tenant": tenant.name, "currency": tenant.currency},
            code="wrong_currency",
        )
    if CreditRedemption.objects.filter(credit_code=credit_code, tenant=tenant).exists():
        raise ApplicationError(
            _("This credit code is already registered for your account."), code="already_redeemed"
        )
    if credit_code.redeemed_count >= credit_code.redemption_limit:
        raise ApplicationError(_("This credit code has already been used."), code="code_used_up")
    credit = credit_grant(
        tenant=tenant,
        name=credit_code.name,
        amount_minor=credit_code.amount,
        currency=credit_code.currency,
        source=Credit.Source.CREDIT_CODE,
        source_key=f"credit-code-{credit_code.pk}-tenant-{tenant.pk}",
        expires_at=credit_code.expires_at,
    )
    CreditRedemption.objects.create(
        credit_code=credit_code, tenant=tenant, credit=credit, redeemed_by=actor, redeemed_at=now
    )
    CreditCode.objects.filter(pk=credit_code.pk).update(redeemed_count=F("redeemed_count") + 1)
    audit_record(
        action="credit_code.redeemed",
        tenant=tenant,
        actor=actor,
        data={"credit": credit_code.name, "amount": format_money(credit_code.amount, credit_code.currency)},
    )
    events.publish(
        "credit.redeemed",
        tenant=tenant,
        data={
            "credit": {
                "id": credit.pk,
                "name": credit.name,
                "amount": credit.amount_charged,
                "currency": credit.currency,
                "expires_at": credit.expires_at.isoformat() if credit.expires_at else None,
            }
        },
    )
    return credit
