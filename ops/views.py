"""Staff-only pages beside Django admin: the revenue dashboard and the CSV exports (thin: they call selectors)."""

from django.contrib import admin
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from billing_portal.common.templatetags.periods import month_label

from . import exports, revenue


def _invoice_link(ids) -> str:
    """The admin invoice list showing exactly these invoices."""
    if not ids:
        return ""
    return (
        reverse("admin:payments_invoice_changelist") + "?id__in=" + ",".join(str(i) for i in sorted(set(ids)))
    )


def _link_all(data):
    """Give every {"invoices": [...]} / {"credits": [...]} figure its admin link (in place)."""
    if isinstance(data, dict):
        if isinstance(data.get("invoices"), list) and all(isinstance(i, int) for i in data["invoices"]):
            data["link"] = _invoice_link(data["invoices"])
        if isinstance(data.get("credits"), list):
            data["link"] = (
                (
                    reverse("admin:payments_credit_changelist")
                    + "?id__in="
                    + ",".join(str(i) for i in data["credits"])
                )
                if data["credits"]
                else ""
            )
        for value in data.values():
            _link_all(value)
    elif isinstance(data, list):
        for value in data:
            _link_all(value)
    return data


def revenue_dashboard(request):
    data = _link_all(revenue.dashboard(months=12))
    chart = {
        "labels": [month_label(label) for label in data["labels"]],
        "currencies": {
            currency: {
                "mrr": [row["mrr"] for row in rows],
                "new": [row["new"]["amount"] for row in rows],
                "expansion": [row["expansion"]["amount"] for row in rows],
                "contraction": [-row["contraction"]["amount"] for row in rows],
                "churned": [-row["churned"]["amount"] for row in rows],
                "exponent": 2 if currency == "USD" else 0,
            }
            for currency, rows in data["mrr"].items()
        },
    }
    overage_rows = {
        currency: [
            {"month": label, **months.get(label, {"amount": 0, "invoices": [], "link": ""})}
            for label in data["labels"]
        ]
        for currency, months in data["mau_overage"].items()
    }
    failed_rows = {
        currency: [
            {"month": label, **months.get(label, {"count": 0, "amount": 0, "invoices": [], "link": ""})}
            for label in data["labels"]
        ]
        for currency, months in data["failed_payments"].items()
    }
    context = {
        **admin.site.each_context(request),
        "title": _("Revenue"),
        "data": data,
        "chart": chart,
        "overage_rows": overage_rows,
        "failed_rows": failed_rows,
        "current": {currency: rows[-1] for currency, rows in data["mrr"].items()},
    }
    return render(request, "ops/revenue.html", context)


def export_index(request):
    context = {
        **admin.site.each_context(request),
        "title": _("CSV exports"),
        "kinds": exports.KINDS,
        "form": exports.ExportFilterForm(request.GET or None),
    }
    return render(request, "ops/exports.html", context)


def export_csv(request, kind: str):
    if kind not in exports.KINDS:
        raise Http404
    form = exports.ExportFilterForm(request.GET)
    if not form.is_valid():
        raise Http404(_("Bad filter"))
    rows = exports.export_rows(kind=kind, request=request, **form.cleaned_data)
    response = StreamingHttpResponse(exports.csv_stream(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(kind, **form.cleaned_data)}"'
    return response
