from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import BILLING_EDIT_ROLES, BILLING_VIEW_ROLES, OWNER_ONLY, ApiKey
from accounts.permissions import tenant_view
from accounts.services import api_key_create, api_key_revoke
from billing_portal.common import clock
from billing_portal.common.csv_stream import csv_response
from billing_portal.common.page_actions import perform

from . import selectors, services
from .forms import ApiKeyCreateForm, MauAlertSettingForm, MauEvidenceForm


@tenant_view(BILLING_VIEW_ROLES)
@require_GET
def mau_live(request):
    """This month's MAU as JSON, polled by static/js/mau_live.js on the billing dashboard."""
    tenant = request.tenant
    year, month = clock.month_of(clock.now(), tenant.time_zone)
    return JsonResponse(
        {
            "month": f"{year:04d}-{month:02d}",
            "mau": selectors.mau_count(tenant=tenant, year=year, month=month),
            "max_mau": selectors.max_mau(tenant=tenant),
        }
    )


@tenant_view(BILLING_VIEW_ROLES)
@require_GET
def mau_evidence(request):
    """The MAU evidence of a month as a streamed CSV (`?month=YYYY-MM`): who was counted, first authenticated
    when and where. Without a month: the form; a bad month: the form with its error, 400."""
    tenant = request.tenant
    if "month" not in request.GET:
        year, month = clock.month_of(clock.now(), tenant.time_zone)
        form = MauEvidenceForm(initial={"month": f"{year:04d}-{month:02d}"})
        return render(request, "metering/mau_evidence.html", {"form": form, "tenant": tenant})
    form = MauEvidenceForm(request.GET)
    if not form.is_valid():
        return render(request, "metering/mau_evidence.html", {"form": form, "tenant": tenant}, status=400)
    year, month = form.cleaned_data["month"]
    return csv_response(
        selectors.mau_evidence_header(tenant=tenant),
        selectors.mau_evidence_rows(tenant=tenant, year=year, month=month),
        filename=selectors.mau_evidence_filename(tenant=tenant, year=year, month=month),
    )


@tenant_view(BILLING_EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def mau_alert_edit(request):
    tenant = request.tenant
    setting = selectors.mau_alert_setting_get(tenant=tenant)
    form = MauAlertSettingForm(
        request.POST or None,
        initial={"notify_representative": setting.notify_representative, "threshold": setting.threshold},
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and perform(
            request,
            lambda: services.mau_alert_setting_update(
                tenant=tenant,
                notify_representative=form.cleaned_data["notify_representative"],
                threshold=form.cleaned_data["threshold"],
            ),
            form=form,
            field=lambda exc: "threshold" if "threshold" in exc.code else "__all__",
            success=_("MAU exceeding alert saved."),
        ).ok
    ):
        return redirect("customer_view", tenant_slug=tenant.slug)
    return render(request, "metering/mau_alert_edit.html", {"form": form, "tenant": tenant})


@tenant_view(OWNER_ONLY)
@require_http_methods(["GET", "POST"])
def api_keys(request):
    tenant = request.tenant
    form = ApiKeyCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        outcome = perform(
            request,
            lambda: api_key_create(tenant=tenant, name=form.cleaned_data["name"], created_by=request.user),
            form=form,
            field="name",
        )
        if outcome.ok:
            created = dict(zip(("key", "raw"), outcome.result, strict=True))
            form = ApiKeyCreateForm()
    keys = ApiKey.objects.filter(tenant=tenant).select_related("created_by").order_by("-created_at")
    response = render(
        request, "metering/api_keys.html", {"form": form, "tenant": tenant, "keys": keys, "created": created}
    )
    if created:
        response["Cache-Control"] = "no-store"
    return response


@tenant_view(OWNER_ONLY)
@require_http_methods(["GET", "POST"])
def api_key_revoke_view(request, key_id):
    tenant = request.tenant
    key = ApiKey.objects.filter(tenant=tenant, pk=key_id).first()
    if key is None:
        raise Http404(_("No such API key."))
    if request.method == "POST":
        api_key_revoke(tenant=tenant, key_id=key.pk)
        messages.success(
            request, _("API key “%(name)s” revoked; requests with it are now refused.") % {"name": key.name}
        )
        return redirect("metering_api_keys", tenant_slug=tenant.slug)
    return render(request, "metering/api_key_revoke.html", {"tenant": tenant, "key": key})
