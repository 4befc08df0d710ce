"""Celery tasks queued while a test clock is in scope run on that clock in the worker too: the tenant's id
travels in a message header and the worker enters the scope (reading the clock's time) around the task."""

from billing_portal.common import clock

HEADER = "test_clock_tenant"


def add_clock_header(headers=None, **kwargs):
    tenant_id = clock.scoped_tenant_id()
    if tenant_id is not None and headers is not None:
        headers[HEADER] = tenant_id


def enter_clock_scope(task=None, **kwargs):
    request = getattr(task, "request", None)
    tenant_id = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    if tenant_id is None or clock.scoped_tenant_id() == tenant_id:
        return  # no test clock, or already in its scope (eager tasks run in the caller's context)
    scope = clock.tenant_scope(tenant_id)
    scope.__enter__()
    request._test_clock_scope = scope


def leave_clock_scope(task=None, **kwargs):
    scope = getattr(getattr(task, "request", None), "_test_clock_scope", None)
    if scope is not None:
        scope.__exit__(None, None, None)
        task.request._test_clock_scope = None
