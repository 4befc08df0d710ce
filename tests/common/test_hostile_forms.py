"""Issue 11: bad input in any form or admin form gives a field error, never a 500.

Every POST form on every tenant page and every Django admin add/change page is found by rendering the page,
then filled by Hypothesis with hostile values (11-digit and 40-digit numbers, 0, negatives, NUL bytes, huge
strings, impossible dates, markup, arbitrary text). Any answer of 500 (or an exception) fails the test.
"""

from datetime import date
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accounts.models import RelyingParty, Role
from payments.invoicing.documents import invoice_issue
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.licenses.conftest import buy, jst
from tests.tenant_urls import SAMPLE_KWARGS, extra_kwarg_names, tenant_url_patterns

pytestmark = pytest.mark.django_db

HOSTILE = st.one_of(
    st.sampled_from(
        [
            "99999999999",
            "-1",
            "0",
            "9" * 40,
            "1e309",
            "NaN",
            "-0",
            "2147483648",
            "9223372036854775808",
            "\x00",
            "x" * 5_000,
            "<script>alert(1)</script>",
            "2027-02-30",
            "31/31/2027",
            "25:61:00",
            "' OR 1=1 --",
            "cus_",
            "pm_x",
            "",
            " ",
            "１２３",
            "١٢٣",
            "\u202e",
            "../../etc/passwd",
        ]
    ),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
SKIP_FIELDS = {"csrfmiddlewaretoken"}
SKIP_ACTIONS = ("/accounts/", "/admin/logout/")
MANAGEMENT_SUFFIXES = ("-TOTAL_FORMS", "-INITIAL_FORMS", "-MIN_NUM_FORMS", "-MAX_NUM_FORMS")


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self._current = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._current = {"action": attrs.get("action") or "", "fields": [], "management": {}}
            self.forms.append(self._current)
        elif self._current is not None and tag in ("input", "select", "textarea"):
            name = attrs.get("name")
            if name and name.endswith(MANAGEMENT_SUFFIXES):
                # Formset management fields keep their rendered values: Django caps a hostile TOTAL_FORMS itself,
                # and building a thousand empty inline forms per example would only make the test slow.
                self._current["management"][name] = attrs.get("value") or ""
            elif name and name not in SKIP_FIELDS and attrs.get("type") not in ("submit", "button", "file"):
                self._current["fields"].append(name)

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def _forms_on(client, url):
    response = client.get(url)
    if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
        return []
    parser = _Forms()
    parser.feed(response.content.decode())
    forms = []
    for form in parser.forms:
        action = form["action"] or url
        if urlsplit(action).netloc or action.startswith(SKIP_ACTIONS) or not form["fields"]:
            continue
        forms.append((url, action, sorted(set(form["fields"])), form["management"]))
    return forms


def _world():
    """A paid tenant with an invoice, RPs, a member and a staff user: pages with objects to show."""
    owner = UserFactory()
    tenant = TenantFactory(owner=owner)
    buy(tenant, "business", jst(2027, 3, 1))
    RelyingParty.objects.create(tenant=tenant, rp_id="login.example.com")
    MembershipFactory(tenant=tenant, role=Role.MANAGER)
    invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key="hostile",
        billing_date=date(2027, 4, 1),
        lines=[{"description": "Fee", "amount": 1_000}],
    )
    return tenant, owner


def _tenant_pages(tenant):
    for _route, pattern in tenant_url_patterns():
        kwargs = {"tenant_slug": tenant.slug}
        extra = extra_kwarg_names(pattern)
        if extra:
            if pattern.name not in SAMPLE_KWARGS:
                continue
            kwargs.update(SAMPLE_KWARGS[pattern.name](tenant))
        try:
            yield reverse(pattern.name, kwargs=kwargs)
        except NoReverseMatch:
            continue


def _admin_pages():
    for model in admin.site._registry:
        opts = model._meta
        try:
            yield reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        except NoReverseMatch:
            pass
        obj = model.objects.order_by("pk").first()
        if obj is not None:
            yield reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    from licenses.models import License
    from payments.models import Invoice

    yield reverse(
        "admin:licenses_license_change_plan",
        args=[License.objects.exclude(plan__license_type="free").first().pk],
    )
    yield reverse("admin:payments_invoice_credit_note", args=[Invoice.objects.first().pk])


def _hammer_one(client, page, action, fields, management, failures, examples):
    # Every form gets the classic killers in every field first (an 11-digit number, a non-number with a NUL byte),
    # then `examples` random hostile mixes.
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(values=st.fixed_dictionaries({name: HOSTILE for name in fields}))
    @example(values=dict.fromkeys(fields, "99999999999"))
    @example(values=dict.fromkeys(fields, "abc\x00"))
    def post(values):
        try:
            response = client.post(action, {**values, **management})
        except Exception as exc:  # noqa: BLE001 - reported with the form and the values
            failures.append((page, action, values, repr(exc)[:300]))
            return
        if response.status_code >= 500:
            failures.append((page, action, values, response.status_code))

    post()


def _hammer(client, forms, examples=3):
    failures = []
    for page, action, fields, management in forms:
        _hammer_one(client, page, action, fields, management, failures, examples)
    return failures


def test_every_tenant_form_survives_hostile_input(client):
    tenant, owner = _world()
    client.force_login(owner)
    forms = [f for url in _tenant_pages(tenant) for f in _forms_on(client, url)]
    assert len(forms) >= 10  # the walk found the forms
    failures = _hammer(client, forms)
    assert not failures, "\n".join(map(str, failures[:20]))


def test_every_admin_form_survives_hostile_input(client):
    _world()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    forms = [f for url in _admin_pages() for f in _forms_on(client, url)]
    assert len(forms) >= 20
    failures = _hammer(client, forms, examples=2)
    assert not failures, "\n".join(map(str, failures[:20]))
