"""Test clocks (writes), as Stripe's: a test tenant bound to its own clock, which stands still until ops advance
it. Advancing walks the clock forward from one due moment to the next (a month starting in the tenant's time
zone, the license period's end, an invoice's charge or retry date, the target) and at each runs what the beat
tasks run for a normal tenant, with `clock.now()` answering that moment: license roll-over, the monthly
invoice, plan changes to bill, pending attempts, charges and retries, and the e-mails they send. The global
beat tasks leave test tenants alone; other tenants are unaffected."""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _

from billing_portal.common import clock
from billing_portal.common.exceptions import ApplicationError
from payments.charging import charge
from payments.invoicing import cycle

from .models import TestClock

logger = logging.getLogger(__name__)

MAX_STEPS = 1000


def test_clock_time(tenant_id) -> datetime | None:
    """The frozen time of the tenant's test clock, or None for a tenant without one (one indexed query); given to
    `billing_portal.common.clock` at start-up (ops/apps.py)."""
    return TestClock.objects.filter(tenant_id=tenant_id).values_list("frozen_time", flat=True).first()


test_clock_time.__test__ = False


def test_clock_create(*, owner, name: str, frozen_time: datetime, **tenant_fields) -> TestClock:
    """A new test tenant (owner, Free license, like any tenant) bound to a clock frozen at `frozen_time`."""
    from accounts.services import tenant_create

    with transaction.atomic():
        tenant = tenant_create(owner=owner, name=name, **tenant_fields)
        test_clock = TestClock.objects.create(
            tenant=tenant, name=f"Test clock: {name}", frozen_time=frozen_time
        )
        # what the tenant has so far happened at its own time
        from licenses.models import License

        License.objects.filter(tenant=tenant).update(started_at=frozen_time, current_period_start=frozen_time)
        # its tenant.created event was written before the clock existed: a test tenant's, at its time
        from .models import WebhookEvent

        for event in WebhookEvent.objects.filter(tenant=tenant):
            event.payload["data"]["tenant"]["test"] = True
            event.payload["timestamp"] = (
                frozen_time.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
            )
            event.save(update_fields=["payload"])
    from .middleware import forget_test_tenant_slugs

    forget_test_tenant_slugs()  # this process sees the new test tenant at once (and again once committed)
    transaction.on_commit(forget_test_tenant_slugs)
    return test_clock


test_clock_create.__test__ = False


def _next_month_start(at, tz_name):
    local = at.astimezone(ZoneInfo(tz_name))
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=ZoneInfo(tz_name)).astimezone(ZoneInfo("UTC"))


def _next_checkpoint(tenant, after, until):
    from licenses.models import License
    from payments.models import Invoice

    candidates = [until, _next_month_start(after, tenant.time_zone)]
    period_end = License.objects.filter(tenant=tenant).values_list("current_period_end", flat=True).first()
    if period_end is not None:
        candidates.append(period_end)
    candidates += list(
        Invoice.objects.filter(
            tenant=tenant,
            payment_method=Invoice.PaymentMethod.CARD,
            status__in=[Invoice.Status.PENDING, Invoice.Status.FAILED],
            next_attempt_at__isnull=False,
            payment_amount__gt=0,
        ).values_list("next_attempt_at", flat=True)
    )
    return min(c for c in candidates if c > after) if any(c > after for c in candidates) else until


def tenant_run_due(*, tenant, at) -> dict:
    """Everything due for the tenant at `at` (within its clock's scope), as the beat tasks would run it."""
    from licenses.services import licenses_roll_over
    from payments.models import Payment

    report = {}
    with clock.tenant_scope(tenant, at=at):
        licenses_roll_over(tenant=tenant, at=at)
        local = at.astimezone(ZoneInfo(tenant.time_zone))
        if cycle.monthly_invoice_issue(tenant=tenant, year=local.year, month=local.month):
            report["monthly_invoice"] = f"{local.year:04d}-{local.month:02d}"
        report["immediate_invoices"] = len(cycle.immediate_invoices_issue(tenant=tenant))
        for payment in Payment.objects.filter(tenant=tenant, status=Payment.Status.PENDING).order_by("pk"):
            charge.payment_attempt_finish(payment=payment, resume=True, at=at)
        outcomes = [
            charge.invoice_charge(invoice=invoice, at=at)
            for invoice in charge.invoices_due_for_charge(at=at, tenant=tenant)
        ]
        if outcomes:
            report["charges"] = outcomes
    return report


tenant_run_due.__test__ = False


def test_clock_advance(*, test_clock: TestClock, to: datetime) -> list[tuple[datetime, dict]]:
    """Move the clock to `to`, stopping at every due moment on the way. Returns what ran at each stop."""
    test_clock = TestClock.objects.select_related("tenant").get(pk=test_clock.pk)
    if to <= test_clock.frozen_time:
        raise ApplicationError(_("A test clock only moves forward."), code="clock_backwards")
    tenant = test_clock.tenant
    log = []
    at = test_clock.frozen_time
    for _step in range(MAX_STEPS):
        at = _next_checkpoint(tenant, at, to)
        TestClock.objects.filter(pk=test_clock.pk).update(frozen_time=at, updated_at=clock.system_now())
        report = tenant_run_due(tenant=tenant, at=at)
        log.append((at, report))
        if at >= to:
            return log
    raise ApplicationError(_("The test clock stopped after too many steps."), code="too_many_steps")


test_clock_advance.__test__ = False


def advance_target(
    frozen_time: datetime, *, to: datetime | None = None, days: int = 0, months: int = 0, tz_name: str = "UTC"
) -> datetime:
    """`to`, or the frozen time plus days and months (a month keeps the local day and time, clamped)."""
    if to is not None:
        return to
    local = frozen_time.astimezone(ZoneInfo(tz_name))
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    import calendar

    day = min(local.day, calendar.monthrange(year, month)[1])
    return (local.replace(year=year, month=month, day=day) + timedelta(days=days)).astimezone(ZoneInfo("UTC"))
