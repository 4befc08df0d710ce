"""CSV exports for ops (reads), streamed row by row from a server-side cursor, so an export of any size holds
only one chunk in memory. Each export takes the period (`from`, `to`: dates, both included) and the same filters
as its Django admin list (list filters, search, date drill-down: the admin list's query string), and leaves
test tenants out. Amounts are integer minor units with their currency; instants are ISO 8601 in the tenant's
time zone."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant
from billing_portal.common.csv_stream import csv_chunks
from payments.models import Credit, Invoice, InvoiceLine, Payment

CHUNK_SIZE = 2000
PERIOD_PARAMS = ("from", "to")


class ExportFilterForm(forms.Form):
    from_ = forms.DateField(label=_("From"), required=False)
    to = forms.DateField(label=_("To (included)"), required=False)

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            data = {"from_": data.get("from", ""), "to": data.get("to", "")}
        super().__init__(data, *args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return {"date_from": data.get("from_"), "date_to": data.get("to")}


def _local(instant, tz_name):
    return instant.astimezone(ZoneInfo(tz_name)).isoformat() if instant else ""


# kind → (model whose admin list filters it, period field, is a date field, header, row function, values)
KINDS = {
    "invoices": {
        "title": _("Invoices"),
        "admin_model": Invoice,
        "period": "billing_date",
        "date": True,
        "header": [
            "invoice_id",
            "number",
            "receipt_id",
            "tenant",
            "tenant_name",
            "kind",
            "status",
            "payment_method",
            "billing_date",
            "issued_at",
            "paid_at",
            "currency",
            "usage_amount_minor",
            "credit_applied_minor",
            "determined_amount_minor",
            "tax_amount_minor",
            "payment_amount_minor",
            "attempt_count",
        ],
        "values": [
            "pk",
            "number",
            "receipt_id",
            "tenant__slug",
            "tenant__name",
            "kind",
            "status",
            "payment_method",
            "billing_date",
            "issued_at",
            "paid_at",
            "currency",
            "usage_amount",
            "credit_applied",
            "determined_amount",
            "tax_amount",
            "payment_amount",
            "attempt_count",
            "tenant__time_zone",
        ],
        "instants": {"issued_at", "paid_at"},
    },
    "invoice-lines": {
        "title": _("Invoice lines"),
        "admin_model": Invoice,
        "period": "invoice__billing_date",
        "date": True,
        "header": [
            "invoice_id",
            "number",
            "tenant",
            "billing_date",
            "position",
            "description",
            "quantity",
            "unit_amount_minor",
            "amount_minor",
            "currency",
        ],
        "values": [
            "invoice_id",
            "invoice__number",
            "invoice__tenant__slug",
            "invoice__billing_date",
            "position",
            "description",
            "quantity",
            "unit_amount",
            "amount",
            "invoice__currency",
            "invoice__tenant__time_zone",
        ],
        "instants": set(),
    },
    "payments": {
        "title": _("Payments"),
        "admin_model": Payment,
        "period": "created_at",
        "date": False,
        "header": [
            "payment_id",
            "tenant",
            "invoice_number",
            "idempotency_key",
            "status",
            "currency",
            "amount_minor",
            "created_at",
            "updated_at",
            "stripe_payment_intent_id",
            "failure_message",
        ],
        "values": [
            "pk",
            "tenant__slug",
            "invoice__number",
            "idempotency_key",
            "status",
            "currency",
            "amount_minor",
            "created_at",
            "updated_at",
            "stripe_payment_intent_id",
            "failure_message",
            "tenant__time_zone",
        ],
        "instants": {"created_at", "updated_at"},
    },
    "credits": {
        "title": _("Credits"),
        "admin_model": Credit,
        "period": "registered_at",
        "date": False,
        "header": [
            "credit_id",
            "tenant",
            "name",
            "source",
            "currency",
            "amount_charged_minor",
            "amount_used_minor",
            "registered_at",
            "expires_at",
        ],
        "values": [
            "pk",
            "tenant__slug",
            "name",
            "source",
            "currency",
            "amount_charged",
            "amount_used",
            "registered_at",
            "expires_at",
            "tenant__time_zone",
        ],
        "instants": {"registered_at", "expires_at"},
    },
    "tenants": {
        "title": _("Tenants"),
        "admin_model": Tenant,
        "period": "created_at",
        "date": False,
        "header": [
            "tenant_id",
            "slug",
            "name",
            "status",
            "sales_model",
            "country",
            "currency",
            "time_zone",
            "plan",
            "created_at",
        ],
        "values": [
            "pk",
            "slug",
            "name",
            "status",
            "sales_model",
            "country",
            "currency",
            "time_zone",
            "license__plan__code",
            "created_at",
        ],
        "tz": "time_zone",
        "instants": {"created_at"},
    },
}


def _admin_filtered(model, request):
    """The queryset the model's admin list shows for this query string (minus our period parameters)."""
    model_admin = admin.site._registry[model]
    original = request.GET
    params = original.copy()
    for name in PERIOD_PARAMS:
        params.pop(name, None)
    request.GET = params
    try:
        changelist = model_admin.get_changelist_instance(request)
        return changelist.get_queryset(request)
    finally:
        request.GET = original


def _tenant_field(kind):
    return {"invoice-lines": "invoice__tenant", "tenants": None}.get(kind, "tenant")


def export_queryset(*, kind, request, date_from=None, date_to=None):
    spec = KINDS[kind]
    filtered = _admin_filtered(spec["admin_model"], request)
    if kind == "invoice-lines":
        qs = InvoiceLine.objects.filter(invoice__in=filtered.values("pk"))
    else:
        qs = spec["admin_model"].objects.filter(pk__in=filtered.values("pk"))
    tenant_field = _tenant_field(kind)
    qs = qs.filter(**{f"{tenant_field}__test_clock__isnull" if tenant_field else "test_clock__isnull": True})
    field = spec["period"]
    if spec["date"]:
        if date_from:
            qs = qs.filter(**{f"{field}__gte": date_from})
        if date_to:
            qs = qs.filter(**{f"{field}__lte": date_to})
    else:  # instants: the days in the operator's time zone
        from django.conf import settings

        tz = ZoneInfo(settings.BILLING_TIME_ZONE)
        if date_from:
            qs = qs.filter(**{f"{field}__gte": datetime.combine(date_from, time.min, tz)})
        if date_to:
            qs = qs.filter(**{f"{field}__lt": datetime.combine(date_to + timedelta(days=1), time.min, tz)})
    return qs.order_by("pk")


def export_rows(*, kind, request, date_from=None, date_to=None):
    """The header, then one list per row, read CHUNK_SIZE rows at a time."""
    spec = KINDS[kind]
    qs = export_queryset(kind=kind, request=request, date_from=date_from, date_to=date_to)
    names = spec["values"]
    instants = [i for i, name in enumerate(names) if name in spec["instants"]]
    width = len(spec["header"])
    tz_index = names.index(spec.get("tz", names[-1]))
    yield spec["header"]
    for row in qs.values_list(*names).iterator(chunk_size=CHUNK_SIZE):
        row = list(row)
        tz_name = row[tz_index]
        for i in instants:
            row[i] = _local(row[i], tz_name)
        yield row[:width]  # cells quoted against CSV injection by csv_chunks


def csv_stream(rows):
    """`export_rows` as CSV text (billing_portal.common.csv_stream: BOM, CRLF, formula-like cells quoted)."""
    rows = iter(rows)
    return csv_chunks(next(rows), rows)


def filename(kind, *, date_from=None, date_to=None) -> str:
    period = f"-{date_from or 'start'}-to-{date_to or 'now'}" if (date_from or date_to) else ""
    return f"{kind}{period}.csv"
