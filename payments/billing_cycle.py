"""The monthly billing cycle (writes): invoices on the 1st, charges from the 5th, retries, immediate plan-change
invoices. Every step is idempotent: invoices by their unique `source_key`, charges by the Payment row's unique
idempotency key (`invoice-<id>-attempt-<n>`), committed before Stripe is called."""

import logging
import time
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from accounts.audit import audit_record
from accounts.models import Tenant
from billing_portal.common import clock
from billing_portal.common.queue import enqueue_on_commit
from licenses.models import License, Plan, PlanChange, ProrationItem, SupportSubscription
from licenses.pricing import plan_invoice_lines, plan_units
from licenses.services import licenses_roll_over
from licenses.support import support_billed_for
from metering.event_outbox import events_ship
from metering.selectors import mau_count, meter_counts_month
from ops.outbox import invoice_event

from . import late_usage
from .invoicing import invoice_issue, invoice_status_set
from .models import Invoice, Payment, PaymentMethodType, PaymentSettings, StripeEvent
from .notifications import notify_payment_failed, notify_payment_succeeded
from .services import PaymentMismatch, payment_attempt_create, payment_lock_for_send, payment_send
from .stripe_gateway import PaymentGatewayError

logger = logging.getLogger(__name__)


def _email_invoice_issued_after_commit(invoice_id: int) -> None:
    """The e-mail goes out from a worker once the invoice is committed (not on the invoicing path)."""
    from .tasks import send_invoice_issued_email

    enqueue_on_commit(send_invoice_issued_email, invoice_id)

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
    changes = list(PlanChange.objects.filter(tenant=tenant, to_plan__category=Plan.Category.LICENSE)
                   .order_by("effective_at", "pk")
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


def _as_invoice_line(line: dict, category: str) -> dict:
    """`category` (license | support | usage) says which discounts apply to the line (payments.discounts)."""
    return {"description": line["description"], "amount": line["amount_minor"], "quantity": line["quantity"],
            "unit_amount": line["unit_amount"], "category": category}


def monthly_lines(*, tenant, year: int, month: int, new_plan, last_plan, pending, support_plan=None) -> list[dict]:
    """The lines of the invoice of (year, month): the new period's fixed fees (license, then the support plan),
    the last period's usage and MAU overage (priced by the plan in effect at its end), then the prorations
    waiting for this invoice."""
    last_year, last_month = previous_month(year, month)
    lines = []
    if not new_plan.is_free:
        lines += [_as_invoice_line(line, "license")
                  for line in plan_invoice_lines(new_plan, fixed=True, metered=False)]
    if support_plan is not None:
        lines += [_as_invoice_line(line, "support")
                  for line in plan_invoice_lines(support_plan, fixed=True, metered=False)]
    if not last_plan.is_free:
        metered_units = any(unit.type != "fixed" for unit in plan_units(last_plan))
        has_overage = last_plan.max_mau is not None and last_plan.mau_overage_unit_amount
        lines += [_as_invoice_line(line, "usage") for line in plan_invoice_lines(
            last_plan, fixed=False, metered=True,
            usage=meter_counts_month(tenant=tenant, year=last_year, month=last_month) if metered_units else {},
            mau=mau_count(tenant=tenant, year=last_year, month=last_month) if has_overage else 0,
        )]
    return lines + [{"description": item.description, "amount": item.amount_minor,
                     "category": _category_of(item.plan_change.to_plan)} for item in pending]


def _category_of(plan) -> str:
    """Which discounts apply to a plan's fee lines: license fees, or support fees (payments.discounts)."""
    return "support" if plan.category == "support" else "license"


def monthly_source_key(tenant, year: int, month: int) -> str:
    return f"monthly-{tenant.pk}-{year:04d}-{month:02d}"


def monthly_invoice_issue(*, tenant, year: int, month: int) -> Invoice | None:
    """The invoice of the period starting on the 1st of (year, month) in the tenant's time zone: fixed fees for
    the new period, usage and MAU overage of the last one, pending prorations, then credits and tax.
    Returns None when there is nothing to bill (Free before and after, nothing pending)."""
    start, end = clock.month_bounds(year, month, tenant.time_zone)
    # ClickHouse event store: what the tenant's requests have had accepted is in ClickHouse before its MAU is read
    # and frozen into MauBilled (waits for a shipment of its rows under way). Nothing with PostgreSQL.
    events_ship(tenant=tenant)
    with transaction.atomic():  # one transaction (one commit) per tenant: roll-over, invoice, prorations
        # One statement locks the tenant and its license (in the order the license services use) and loads
        # what the invoice needs about the tenant.
        # It also says whether the tenant has a support subscription or discounts, so that the many tenants
        # without either cost no further statement for them.
        from .models import Discount

        license = (
            License.objects.select_for_update(of=("self", "tenant"))
            .select_related("tenant", "plan", "tenant__payment_settings", "tenant__payment_administrator")
            .annotate(has_support=Exists(SupportSubscription.objects.filter(tenant_id=OuterRef("tenant_id"))),
                      has_discounts=Exists(Discount.objects.filter(tenant_id=OuterRef("tenant_id"))))
            .get(tenant_id=tenant.pk)
        )
        tenant = license.tenant
        existing = Invoice.objects.filter(source_key=monthly_source_key(tenant, year, month)).first()
        if existing is not None:
            return existing
        licenses_roll_over(tenant=tenant, at=start, license=license)
        support_plan = support_billed_for(tenant=tenant, period_start=start) if license.has_support else None
        pending = list(
            ProrationItem.objects.select_for_update(of=("self",)).select_related("plan_change__to_plan")
            .filter(tenant=tenant, status=ProrationItem.Status.PENDING, billing=ProrationItem.Billing.NEXT_INVOICE,
                    created_at__lt=start)
            .order_by("created_at", "pk")
        )
        new_plan, last_plan = plans_at(tenant=tenant, instants=[start, start - timedelta(microseconds=1)])
        lines = monthly_lines(tenant=tenant, year=year, month=month, new_plan=new_plan, last_plan=last_plan,
                              pending=pending, support_plan=support_plan)
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
            discount_plan=new_plan if license.has_discounts else None,
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
                ProrationItem.objects.select_for_update(of=("self",)).select_related("plan_change__to_plan")
                .filter(tenant=tenant, plan_change_id=change_id, status=ProrationItem.Status.PENDING,
                        billing=ProrationItem.Billing.IMMEDIATE).order_by("pk")
            )
            if not items:
                continue
            now = clock.now()
            change = items[0].plan_change
            invoice = invoice_issue(
                tenant=tenant, kind=Invoice.Kind.PRORATION, source_key=f"plan-change-{change_id}",
                lines=[{"description": item.description, "amount": item.amount_minor,
                        "category": _category_of(change.to_plan)} for item in items],
                billing_date=now.astimezone(ZoneInfo(tenant.time_zone)).date(),
                payment_method=_payment_method(tenant), charge_at=now,
                discount_plan=change.to_plan, discount_fraction=_period_fraction(change),
            )
            ProrationItem.objects.filter(pk__in=[item.pk for item in items]).update(
                status=ProrationItem.Status.INVOICED
            )
            _email_invoice_issued_after_commit(invoice.pk)
            invoices.append(invoice)
    return invoices


def _period_fraction(change):
    """The part of the period a plan change's invoice covers (its remaining line over the plan's price)."""
    from decimal import Decimal

    from licenses.pricing import plan_fixed_amount

    price = plan_fixed_amount(change.to_plan)
    return Decimal(change.remaining_amount) / Decimal(price) if price else None


def tenants_to_invoice(*, at) -> list[int]:
    """Tenants whose current month (in their time zone) has begun and has no monthly invoice yet, and that had
    or have a paid license or have prorations waiting."""
    ids = []
    candidates = Tenant.objects.filter(
        Q(license__plan__license_type__in=["starter", "business", "enterprise"])
        | Q(plan_changes__isnull=False) | Q(proration_items__status=ProrationItem.Status.PENDING)
    ).filter(test_clock__isnull=True).distinct().only("pk", "time_zone")  # test tenants: their test clock
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
    IN_FLIGHT = "in_flight"  # another process is charging this invoice right now
    UNKNOWN = "unknown"  # Stripe could not be reached: the attempt stays pending and the sweeper resumes it
    SKIPPED = "skipped"


def invoices_due_for_charge(*, at, tenant=None):
    """Card invoices due by `at`: one tenant's, or every tenant's but test tenants' (their test clock runs them)."""
    due = Invoice.objects.filter(
        payment_method=Invoice.PaymentMethod.CARD,
        status__in=[Invoice.Status.PENDING, Invoice.Status.FAILED],
        next_attempt_at__isnull=False, next_attempt_at__lte=at, payment_amount__gt=0,
    )
    due = due.filter(tenant=tenant) if tenant is not None else due.filter(tenant__test_clock__isnull=True)
    return due.order_by("next_attempt_at", "pk")


def invoice_charge(*, invoice, at=None) -> str:
    """Charge one card invoice off-session: at most one charge, however many runs, retries and crashes.

    Under the invoice's row lock: an invoice with a successful attempt is paid (never charged again); one with a
    pending attempt (a run killed mid-call, Stripe unreachable) resumes that attempt with its own idempotency
    key; otherwise, when due, attempt n+1 (`invoice-<id>-attempt-<n>`) is committed before Stripe hears of it.
    The database allows one live attempt per invoice. Stripe is then called holding the attempt's row lock,
    and the outcome and the invoice's bookkeeping are committed together.
    """
    at = at or clock.now()
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=invoice.pk)
        if invoice.status in (Invoice.Status.SUCCESSFUL, Invoice.Status.VOID) or (
                invoice.payment_method != Invoice.PaymentMethod.CARD):
            return ChargeOutcome.SKIPPED
        live = invoice.payments.filter(status__in=Payment.LIVE_STATUSES).first()
        if live is not None and live.status == Payment.Status.SUCCESSFUL:
            _mark_paid(invoice, payment=live)
            return ChargeOutcome.PAID
        if live is not None and live.status == Payment.Status.REQUIRES_ACTION:
            return ChargeOutcome.ACTION_REQUIRED  # the customer confirms it with their bank (3-D Secure page)
        if live is not None:
            payment, resume = live, True
        else:
            if (invoice.status not in (Invoice.Status.PENDING, Invoice.Status.FAILED)
                    or invoice.next_attempt_at is None or invoice.next_attempt_at > at or invoice.payment_amount <= 0):
                return ChargeOutcome.SKIPPED
            invoice.attempt_count += 1
            invoice.save(update_fields=["attempt_count"])
            payment, _created = payment_attempt_create(
                tenant=invoice.tenant, amount_minor=invoice.payment_amount, currency=invoice.currency,
                idempotency_key=f"invoice-{invoice.pk}-attempt-{invoice.attempt_count}",
                description=f"Invoice {invoice.number}", invoice=invoice,
            )
            resume = False
    return payment_attempt_finish(payment=payment, resume=resume, at=at)


_OUTCOME_OF_STATUS = {
    Payment.Status.SUCCESSFUL: ChargeOutcome.PAID, Payment.Status.FAILED: ChargeOutcome.FAILED,
    Payment.Status.REQUIRES_ACTION: ChargeOutcome.ACTION_REQUIRED, Payment.Status.PENDING: ChargeOutcome.UNKNOWN,
}


def payment_attempt_finish(*, payment, resume: bool, at=None) -> str:
    """Send (or resume) a pending attempt and settle its invoice in the same transaction as the outcome."""
    at = at or clock.now()
    try:
        with transaction.atomic():
            locked = payment_lock_for_send(payment=payment)
            if locked is None:
                return ChargeOutcome.IN_FLIGHT
            before = locked.status
            locked = payment_send(payment=locked, resume=resume)
            if locked.invoice_id is None:
                return _OUTCOME_OF_STATUS[locked.status]
            return payment_settle_invoice(payment=locked, previous_status=before, at=at)
    except PaymentGatewayError as exc:
        logger.warning("Charging %s: outcome unknown (%s); the sweeper resumes it", payment.idempotency_key,
                       exc.message)
        return ChargeOutcome.UNKNOWN


def _mark_paid(invoice, *, payment) -> None:
    """Within the caller's transaction and the invoice's row lock: the invoice is paid (once), by this payment."""
    if payment.amount_minor != invoice.payment_amount or payment.currency != invoice.currency:
        raise PaymentMismatch(
            f"Payment {payment.idempotency_key} is {payment.amount_minor} {payment.currency}, but invoice "
            f"{invoice.number} is {invoice.payment_amount} {invoice.currency}."
        )
    invoice_status_set(invoice, Invoice.Status.SUCCESSFUL, paid_at=clock.now())
    audit_record(action="invoice.paid", tenant=invoice.tenant,
                 data={"number": invoice.number, "method": "card", "amount": invoice.payment_amount,
                       "attempt": invoice.attempt_count, "payment": payment.idempotency_key})
    invoice_event("invoice.paid", invoice)
    transaction.on_commit(lambda: notify_payment_succeeded(invoice=invoice))


def payment_settle_invoice(*, payment, previous_status: str, at=None) -> str:
    """Within the transaction that changed the attempt's status (charge run, sweeper, webhook, 3-D Secure page):
    the invoice follows. Successful → paid; a pending attempt that failed or needs authentication → the
    invoice failed, with its next retry and the e-mail. Anything else changes nothing."""
    at = at or clock.now()
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=payment.invoice_id)
    if payment.status == Payment.Status.SUCCESSFUL:
        if invoice.status != Invoice.Status.SUCCESSFUL:
            _mark_paid(invoice, payment=payment)
        return ChargeOutcome.PAID
    if invoice.status == Invoice.Status.SUCCESSFUL:
        return ChargeOutcome.PAID
    if payment.status == Payment.Status.PENDING:
        return ChargeOutcome.UNKNOWN
    if previous_status != Payment.Status.PENDING:
        return ChargeOutcome.ACTION_REQUIRED if payment.status == Payment.Status.REQUIRES_ACTION else ChargeOutcome.FAILED
    retries_done = invoice.attempt_count - 1
    # The retry schedule is anchored on the first failure, on the tenant's clock (a test clock's time, if any).
    first_failure = (invoice.next_attempt_at - timedelta(days=RETRY_AFTER_DAYS[retries_done - 1])
                     if 0 < retries_done <= len(RETRY_AFTER_DAYS) and invoice.next_attempt_at else clock.now())
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
    invoice_event("invoice.payment_failed", invoice, reason=payment.failure_message,
                  next_attempt_at=next_at.isoformat() if next_at else None)
    action_path = None
    if payment.status == Payment.Status.REQUIRES_ACTION:
        from django.urls import reverse

        action_path = reverse("invoice_pay", args=[invoice.tenant.slug, invoice.receipt_id])
    reason = payment.failure_message or "The payment failed."
    transaction.on_commit(lambda: notify_payment_failed(
        invoice=invoice, reason=reason, next_attempt_at=next_at, action_path=action_path,
    ))
    return ChargeOutcome.ACTION_REQUIRED if action_path else ChargeOutcome.FAILED


def invoices_charge_due(*, at=None, progress=None) -> Counter:
    """One charge run (`charge_due_invoices`, the hourly tick, the sweeper): every card invoice due by `at`."""
    at = at or clock.now()
    invoices = list(invoices_due_for_charge(at=at))
    outcomes = Counter()
    for invoice in progress(invoices) if progress else invoices:
        outcomes[invoice_charge(invoice=invoice, at=at)] += 1
    return outcomes


# --- the sweeper ---------------------------------------------------------------------------------------------

WEBHOOK_REPROCESS_ATTEMPTS = 5


def payments_sweep(*, at=None) -> Counter:
    """Finish whatever a crash, an outage or a lost queue message left behind (beat, every few minutes; safe to
    run at any time and concurrently with everything else, since each step is idempotent under its row locks):

    1. plan changes to be invoiced at once whose task never ran (the broker was down, the worker died);
    2. attempts whose outcome is unknown (a process killed while charging, Stripe unreachable): looked up at
       Stripe by their metadata, or sent again with their own idempotency key, and their invoice settled;
    3. successful attempts whose invoice is not marked paid (repair; the charge path commits both together);
    4. card invoices due for a charge or a retry;
    5. refunds whose answer was lost, sent again with their own key;
    6. Stripe webhooks whose processing failed (up to WEBHOOK_REPROCESS_ATTEMPTS times) or never finished.
    """
    from .services import stripe_event_process

    at = at or clock.now()
    report = Counter()
    tenant_ids = (ProrationItem.objects.filter(status=ProrationItem.Status.PENDING,
                                               billing=ProrationItem.Billing.IMMEDIATE,
                                               tenant__test_clock__isnull=True)
                  .values_list("tenant_id", flat=True).distinct())
    for tenant in Tenant.objects.filter(pk__in=list(tenant_ids)):
        report["invoices_issued"] += len(immediate_invoices_issue(tenant=tenant))
    for payment in Payment.objects.filter(status=Payment.Status.PENDING, tenant__test_clock__isnull=True).order_by("pk"):
        report[f"resumed_{payment_attempt_finish(payment=payment, resume=True, at=at)}"] += 1
    for payment in Payment.objects.filter(status=Payment.Status.SUCCESSFUL,
                                          invoice__status__in=[Invoice.Status.PENDING, Invoice.Status.FAILED]):
        with transaction.atomic():
            locked = Payment.objects.select_for_update().get(pk=payment.pk)
            payment_settle_invoice(payment=locked, previous_status=locked.status, at=at)
        report["repaired_paid"] += 1
    for outcome, count in invoices_charge_due(at=max(at, clock.now())).items():  # incl. those just issued
        report[f"charged_{outcome}"] += count
    from .corrections import refunds_resume

    report["refunds_resent"] += refunds_resume()
    # Failed ones, and ones stored but never processed (the web process died mid-way) after a minute.
    stale = at - timedelta(minutes=1)
    events = StripeEvent.objects.filter(
        Q(status=StripeEvent.Status.FAILED, attempts__lt=WEBHOOK_REPROCESS_ATTEMPTS)
        | Q(status=StripeEvent.Status.RECEIVED, received_at__lt=stale)
    ).order_by("received_at")
    for event in events:
        report[f"webhook_{stripe_event_process(event=event).status}"] += 1
    return report
