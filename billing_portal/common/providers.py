"""Answers a lower app needs from a higher one, handed to it at start-up instead of imported.

Apps depend one way (see docs/architecture.md): `licenses` may not import `payments`, yet buying a plan needs
to know whether the tenant has a payment method, and a downgrade's credit is a payments record. The lower app
asks `providers.get(NAME)(…)`; the higher app registers the answer in its `AppConfig.ready`
(`providers.provide(NAME, function)`). Every name is declared below with what it answers and its default (used
when no app provides it, e.g. a test that only needs the lower app), so the whole list is in one place.
"""

from collections.abc import Callable


def _no_test_clock(tenant_id):
    return None


def _no_payment_problem(*, tenant):
    return None


def _no_late_events(*, tenant, accepted_by_month):
    return {}


def _no_limit(*, tenant):
    return None


def _refuse(name):
    def refuse(**kwargs):
        raise LookupError(f"No app provides {name!r}: is the app that answers it in INSTALLED_APPS?")

    return refuse


# name → (what it answers, default)
DECLARED: dict[str, tuple[str, Callable]] = {
    # ops: the frozen time of a tenant's test clock, or None (billing_portal.common.clock)
    "test_clock_time": ("test_clock_time(tenant_id) -> datetime | None", _no_test_clock),
    # payments: why the tenant cannot pay for a plan yet, as (code, message, HTTP status), or None (licenses)
    "payment_method_problem": (
        "payment_method_problem(*, tenant) -> tuple[str, str, int] | None",
        _no_payment_problem,
    ),
    # payments: a plan change's negative proration becomes tenant credit, idempotent by the change (licenses)
    "proration_credit_grant": (
        "proration_credit_grant(*, tenant, change) -> None",
        _refuse("proration_credit_grant"),
    ),
    # payments: bill a tenant's pending immediate proration items soon (the sweeper bills them if this is lost)
    "plan_change_bill_soon": ("plan_change_bill_soon(*, tenant) -> None", _refuse("plan_change_bill_soon")),
    # payments: how late events for already invoiced months will be billed, for the ingest response (metering)
    "late_events_report": ("late_events_report(*, tenant, accepted_by_month) -> dict", _no_late_events),
    # licenses: the tenant's current plan's MAU limit, None for unlimited (metering)
    "mau_limit": ("mau_limit(*, tenant) -> int | None", _no_limit),
}
_provided: dict[str, Callable] = {}


def provide(name: str, answer: Callable) -> None:
    if name not in DECLARED:
        raise KeyError(f"{name!r} is not declared in billing_portal.common.providers.DECLARED")
    _provided[name] = answer


def get(name: str) -> Callable:
    return _provided.get(name) or DECLARED[name][1]
