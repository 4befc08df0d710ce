"""The monthly billing cycle (writes): invoices on the 1st, charges from the 5th, retries, immediate plan-change
invoices. Every step is idempotent: invoices by their unique `source_key`, charges by the Payment row's unique
idempotency key (`invoice-<id>-attempt-<n>`), committed before Stripe is called."""

import logging
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q

from accounts.audit import audit_record
from accounts.models import Tenant
from billing_portal.common import clock
from licenses.models import License, Plan, PlanChange, ProrationItem
from licenses.pricing import plan_invoice_lines, plan_units
from licenses.services import licenses_roll_over
from metering.selectors import mau_count, meter_counts_month

from . import late_usage
from .invoicing import invoice_issue, invoice_status_set
from .models import Invoice, Payment, PaymentMethodType, PaymentSettings
from .notifications import notify_payment_failed, notify_payment_succeeded
from .services import payment_charge_off_session

logger = logging.getLogger(__name__)


def _email_invoice_issued_after_commit(invoice_id: int) -> None:
    """The e-mail goes out from a worker once the invoice is committed (not on the invoicing path)."""
    from .tasks import send_invoice_issued_email

    transaction.on_commit(lambda: send_invoice_issued_email.delay(invoice_id))

CHARGE_DAY = 5  # cards are charged on the 5th of the billing month (tenant's time zone)
RETRY_AFTER_DAYS = (3, 5, 7)  # after a failed charge: again 3, 5 and 7 days after the first failure


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


PLAN_CACHE_SECONDS = 60
_plan_cache: dict[int, tuple[float, object]] = {}


def priced_plan(plan_id: int):
    """The plan with its menus, units, tiers and metering units loaded: the catalogue changes rarely, so each
    worker keeps it for PLAN_CACHE_SECONDS instead of reading it again for every tenant."""
    hit = _plan_cache.get(plan_id)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    plan = Plan.objects.prefetch_related("menus__units__tiers", "menus__units__metering_unit").get(pk=plan_id)
    _plan_cache[plan_id] = (time.monotonic() + PLAN_CACHE_SECONDS, plan)
    return plan


def plans_at(*, tenant, instants) -> list:
    """The plan in effect at each instant, from the plan history (the license's plan when nothing changed)."""
    changes = list(PlanChange.objects.filter(tenant=tenant).order_by("effective_at", "pk")
                   .values_list("effective_at", "from_plan_id", "to_plan_id"))
    plan_ids = []
    for at in instants:
        before = [to_plan for effective_at, _from, to_plan in changes if effective_at <= at]
        if before:
            plan_ids.append(before[-1])
        elif changes:
            plan_ids.append(changes[0][1])
        else:
            plan_ids.append(License.objects.values_list("plan_id", flat=True).get(tenant=tenant))
    return [priced_plan(plan_id) for plan_id in plan_ids]


def plan_at(*, tenant, at):
    return plans_at(tenant=tenant, instants=[at])[0]


def _payment_method(tenant) -> str:
    try:
        settings_ = tenant.payment_settings
    except PaymentSettings.DoesNotExist:
        settings_ = None
    if settings_ and settings_.method == PaymentMethodType.BANK_TRANSFER:
        return Invoice.PaymentMethod.BANK_TRANSFER
    return Invoice.PaymentMethod.CARD


def _as_invoice_line(line: dict) -> dict:
    return {"description": line["description"], "amount": line["amount_minor"], "quantity": line["quantity"],
            "unit_amount": line["unit_amount"]}


def monthly_lines(*, tenant, year: int, month: int, new_plan, last_plan, pending) -> list[dict]:
    """The lines of the invoice of (year, month): the new period's fixed fees, the last period's usage and MAU
    overage (priced by the plan in effect at its end), then the prorations waiting for this invoice."""
    last_year, last_month = previous_month(year, month)
    lines = []
    if not new_plan.is_free:
        lines += plan_invoice_lines(new_plan, fixed=True, metered=False)
    if not last_plan.is_free:
        metered_units = any(unit.type != "fixed" for unit in plan_units(last_plan))
        has_overage = last_plan.max_mau is not None and last_plan.mau_overage_unit_amount
        lines += plan_invoice_lines(
            last_plan, fixed=False, metered=True,
            usage=meter_counts_month(tenant=tenant, year=last_year, month=last_month) if metered_units else {},
            mau=mau_count(tenant=tenant, year=last_year, month=last_month) if has_overage else 0,
        )
    lines = [_as_invoice_line(line) for line in lines]
    return lines + [{"description": item.description, "amount": item.amount_minor} for item in pending]


def monthly_source_key(tenant, year: int, month: int) -> str:
    return f"monthly-{tenant.pk}-{year:04d}-{month:02d}"


def monthly_invoice_issue(*, tenant, year: int, month: int) -> Invoice | None:
    """The invoice of the period starting on the 1st of (year, month) in the tenant's time zone: fixed fees for
    the new period, usage and MAU overage of the last one, pending prorations, then credits and tax.
    Returns None when there is nothing to bill (Free before and after, nothing pending)."""
    start, end = clock.month_bounds(year, month, tenant.time_zone)
    with transaction.atomic():  # one transaction (one commit) per tenant: roll-over, invoice, prorations
        # One statement locks the tenant and its license (in the order the license services use) and loads
        # what the invoice needs about the tenant.
        license = (
            License.objects.select_for_update(of=("self", "tenant"))
            .select_related("tenant", "plan", "tenant__payment_settings", "tenant__payment_administrator")
            .get(tenant_id=tenant.pk)
        )
        tenant = license.tenant
        existing = Invoice.objects.filter(source_key=monthly_source_key(tenant, year, month)).first()
        if existing is not None:
            return existing
        licenses_roll_over(tenant=tenant, at=start, license=license)
        pending = list(
            ProrationItem.objects.select_for_update()
            .filter(tenant=tenant, status=ProrationItem.Status.PENDING, billing=ProrationItem.Billing.NEXT_INVOICE,
                    created_at__lt=start)
            .order_by("created_at", "pk")
        )
        new_plan, last_plan = plans_at(tenant=tenant, instants=[start, start - timedelta(microseconds=1)])
        lines = monthly_lines(tenant=tenant, year=year, month=month, new_plan=new_plan, last_plan=last_plan,
                              pending=pending)
        # Late authentication events of months already invoiced: labelled adjustment lines (payments/late_usage.py).
        last_year, last_month = previous_month(year, month)
        adjustments = late_usage.late_mau_adjustments(tenant=tenant, before=date(last_year, last_month, 1))
        lines += [adjustment["line"] for adjustment in adjustments]
        if not lines:
            return None
        invoice = invoice_issue(
            tenant=tenant, kind=Invoice.Kind.MONTHLY, source_key=monthly_source_key(tenant, year, month),
            lines=lines, billing_date=date(year, month, 1), period_start=start, period_end=end,
            payment_method=_payment_method(tenant), tenant_locked=True,
            charge_at=datetime(year, month, CHARGE_DAY, tzinfo=ZoneInfo(tenant.time_zone)),
        )
        if pending:
            ProrationItem.objects.filter(pk__in=[item.pk for item in pending]).update(
                status=ProrationItem.Status.INVOICED
            )
        late_usage.record_monthly_invoice_usage(
            tenant=tenant, last_plan=last_plan, last_month=date(last_year, last_month, 1), lines=lines,
            adjustments=adjustments, source_key=invoice.source_key,
        )
        _email_invoice_issued_after_commit(invoice.pk)
    return invoice


def immediate_invoices_issue(*, tenant) -> list[Invoice]:
    """Invoice plan changes billed at once (purchase, always_invoice upgrades): one invoice per plan change,
    due for charging immediately."""
    invoices = []
    change_ids = (
        ProrationItem.objects.filter(tenant=tenant, status=ProrationItem.Status.PENDING,
                                     billing=ProrationItem.Billing.IMMEDIATE)
        .values_list("plan_change_id", flat=True).distinct()
    )
    for change_id in sorted(set(change_ids)):
        with transaction.atomic():
            items = list(
                ProrationItem.objects.select_for_update()
                .filter(tenant=tenant, plan_change_id=change_id, status=ProrationItem.Status.PENDING,
                        billing=ProrationItem.Billing.IMMEDIATE).order_by("pk")
            )
            if not items:
                continue
            now = clock.now()
            invoice = invoice_issue(
                tenant=tenant, kind=Invoice.Kind.PRORATION, source_key=f"plan-change-{change_id}",
                lines=[{"description": item.description, "amount": item.amount_minor} for item in items],
                billing_date=now.astimezone(ZoneInfo(tenant.time_zone)).date(),
                payment_method=_payment_method(tenant), charge_at=now,
            )
            ProrationItem.objects.filter(pk__in=[item.pk for item in items]).update(
                status=ProrationItem.Status.INVOICED
            )
            _email_invoice_issued_after_commit(invoice.pk)
            invoices.append(invoice)
    return invoices


def tenants_to_invoice(*, at) -> list[int]:
    """Tenants whose current month (in their time zone) has begun and has no monthly invoice yet, and that had
    or have a paid license or have prorations waiting."""
    ids = []
    candidates = Tenant.objects.filter(
        Q(license__plan__license_type__in=["starter", "business", "enterprise"])
        | Q(plan_changes__isnull=False) | Q(proration_items__status=ProrationItem.Status.PENDING)
    ).distinct().only("pk", "time_zone")
    for tenant in candidates:
        local = (at - late_usage.grace()).astimezone(ZoneInfo(tenant.time_zone))  # grace for late events
        if not Invoice.objects.filter(source_key=monthly_source_key(tenant, local.year, local.month)).exists():
            ids.append(tenant.pk)
    return ids


# --- charging -----------------------------------------------------------------------------------------------


class ChargeOutcome:
    PAID = "paid"
    FAILED = "failed"
    ACTION_REQUIRED = "action_required"
    BLOCKED = "blocked"  # an earlier attempt's outcome is unknown: reconcile before trying again
    SKIPPED = "skipped"


def invoices_due_for_charge(*, at):
    return Invoice.objects.filter(
        payment_method=Invoice.PaymentMethod.CARD,
        status__in=[Invoice.Status.PENDING, Invoice.Status.FAILED],
        next_attempt_at__isnull=False, next_attempt_at__lte=at, payment_amount__gt=0,
    ).order_by("next_attempt_at", "pk")


def invoice_charge(*, invoice, at=None) -> str:
    """Charge one card invoice off-session, exactly once per attempt.

    The attempt's Payment row (key `invoice-<id>-attempt-<n>`) is committed, under the invoice's row lock, before
    Stripe is called: a task that is retried or runs twice finds it and does not charge again. A Payment still
    pending (Stripe unreachable mid-call, outcome unknown) blocks further attempts until it is reconciled.
    """
    at = at or clock.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("tenant").get(pk=invoice.pk)
        if (invoice.status not in (Invoice.Status.PENDING, Invoice.Status.FAILED)
                or invoice.payment_method != Invoice.PaymentMethod.CARD
                or invoice.next_attempt_at is None or invoice.next_attempt_at > at):
            return ChargeOutcome.SKIPPED
        if invoice.payments.filter(status=Payment.Status.PENDING).exists():
            return ChargeOutcome.BLOCKED
        if invoice.payments.filter(status=Payment.Status.SUCCESSFUL).exists():
            # An earlier attempt succeeded and is being recorded by its own run: never charge a second time.
            return ChargeOutcome.SKIPPED
        invoice.attempt_count += 1
        invoice.save(update_fields=["attempt_count"])
        key = f"invoice-{invoice.pk}-attempt-{invoice.attempt_count}"
        # The attempt exists (and blocks any concurrent run) before Stripe is called.
        Payment.objects.create(
            tenant=invoice.tenant, invoice=invoice, amount_minor=invoice.payment_amount, currency=invoice.currency,
            idempotency_key=key, description=f"Invoice {invoice.number}",
        )
    payment = payment_charge_off_session(
        tenant=invoice.tenant, amount_minor=invoice.payment_amount, currency=invoice.currency,
        idempotency_key=key, description=f"Invoice {invoice.number}", invoice=invoice,
    )
    return _record_charge_result(invoice=invoice, payment=payment, at=at)


def _mark_paid(invoice, *, at) -> None:
    """Within the caller's transaction and row lock: the invoice is paid (once)."""
    invoice_status_set(invoice, Invoice.Status.SUCCESSFUL, paid_at=at)
    audit_record(action="invoice.paid", tenant=invoice.tenant,
                 data={"number": invoice.number, "method": "card", "amount": invoice.payment_amount,
                       "attempt": invoice.attempt_count})
    transaction.on_commit(lambda: notify_payment_succeeded(invoice=invoice))


def invoice_paid_by_payment(*, payment) -> Invoice:
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("tenant").get(pk=payment.invoice_id)
        if invoice.status != Invoice.Status.SUCCESSFUL and payment.status == Payment.Status.SUCCESSFUL:
            _mark_paid(invoice, at=clock.now())
    return invoice


def _record_charge_result(*, invoice, payment, at) -> str:
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("tenant").get(pk=invoice.pk)
        if invoice.status == Invoice.Status.SUCCESSFUL:
            return ChargeOutcome.PAID
        if payment.status == Payment.Status.SUCCESSFUL:
            _mark_paid(invoice, at=clock.now())
            return ChargeOutcome.PAID
        if payment.status == Payment.Status.PENDING:
            return ChargeOutcome.BLOCKED
        retries_done = invoice.attempt_count - 1
        first_failure = invoice.payments.order_by("created_at").values_list("created_at", flat=True).first() or clock.now()
        if payment.status == Payment.Status.REQUIRES_ACTION:
            # The customer must confirm with their bank; automatic retries would fail the same way.
            next_at = None
        elif retries_done < len(RETRY_AFTER_DAYS):
            next_at = first_failure + timedelta(days=RETRY_AFTER_DAYS[retries_done])
        else:
            next_at = None
        invoice_status_set(invoice, Invoice.Status.FAILED, next_attempt_at=next_at)
        audit_record(action="invoice.payment_failed", tenant=invoice.tenant,
                     data={"number": invoice.number, "attempt": invoice.attempt_count,
                           "reason": payment.failure_message, "next_attempt_at": next_at.isoformat() if next_at else None})
        action_path = None
        if payment.status == Payment.Status.REQUIRES_ACTION:
            from django.urls import reverse

            action_path = reverse("invoice_pay", args=[invoice.tenant.slug, invoice.receipt_id])
        transaction.on_commit(lambda: notify_payment_failed(
            invoice=invoice, reason=payment.failure_message or "The payment failed.", next_attempt_at=next_at,
            action_path=action_path,
        ))
        return ChargeOutcome.ACTION_REQUIRED if action_path else ChargeOutcome.FAILED
