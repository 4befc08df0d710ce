"""One way for a page to run a service: the service's ApplicationError becomes what the person reads (an error on
the form, or a flash message), success flashes its message. A view then only validates, performs, and redirects
or renders:

    if form.is_valid() and perform(request, lambda: services.x(...), form=form, success=_("Saved.")).ok:
        return redirect(...)
"""

from collections.abc import Callable
from typing import Any, NamedTuple

from django.contrib import messages

from .exceptions import ApplicationError


class Outcome(NamedTuple):
    ok: bool
    result: Any = None
    error: str | None = None  # the refusal's message, for pages that show it themselves


def perform(
    request,
    action: Callable[[], Any],
    *,
    success: str | Callable[[Any], str] | None = None,
    form=None,
    field: str | Callable[[ApplicationError], str | None] | None = None,
    flash_error: bool = True,
) -> Outcome:
    """Run `action()`. On ApplicationError: add its message to `form` (on `field`, a field name or a function
    of the error, else on the field the error names in extra["field"], else on the whole form), or flash it
    when there is no form (unless flash_error=False: the caller shows Outcome.error). On success: flash
    `success` (a text, or a function of the action's result)."""
    try:
        result = action()
    except ApplicationError as exc:
        if form is not None:
            name = field(exc) if callable(field) else field
            form.add_error(name if name is not None else exc.extra.get("field"), exc.message)
        elif flash_error:
            messages.error(request, exc.message)
        return Outcome(False, None, exc.message)
    if success is not None:
        messages.success(request, success(result) if callable(success) else success)
    return Outcome(True, result)
