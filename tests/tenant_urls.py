"""Every URL under /t/<tenant_slug>/, found by walking the URLconf, for the isolation tests.

A URL that takes more than the tenant slug (an invoice id, say) needs an entry in SAMPLES of
`tests/<app>/url_samples.py`: a function
that, given a tenant, creates an object of that tenant and returns the URL kwargs naming it. The isolation
test then also asks for tenant B's object under tenant A's URL and expects 404.
"""

from importlib import import_module

from django.urls import URLPattern, URLResolver, get_resolver

TENANT_PREFIX = "t/<slug:tenant_slug>/"


def _collect_samples():
    """url name -> callable(tenant) -> extra kwargs, from `tests/<app>/url_samples.py` (dict SAMPLES)."""
    samples = {}
    for app in ("accounts", "licenses", "metering", "payments"):
        try:
            samples.update(import_module(f"tests.{app}.url_samples").SAMPLES)
        except ModuleNotFoundError as exc:
            if exc.name not in (f"tests.{app}.url_samples", f"tests.{app}"):
                raise
    return samples


SAMPLE_KWARGS: dict = _collect_samples()


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def tenant_url_patterns():
    """[(route, URLPattern)] for every named page under the tenant prefix."""
    return [
        (route, pattern)
        for route, pattern in _walk(get_resolver().url_patterns)
        if route.startswith(TENANT_PREFIX)
    ]


def extra_kwarg_names(pattern: URLPattern) -> set[str]:
    return set(pattern.pattern.converters) - {"tenant_slug"}
