
from billing_portal.common.api import api_view
from billing_portal.common.exceptions import NotFound
from payments.invoicing.preview import upcoming_invoice_preview
from payments.invoicing.receipts import receipt_response
from payments.invoicing.selectors import invoice_api_summary, invoice_get_by_receipt, invoice_list


@api_view(["GET"])
def invoices(request, tenant):
    return {"invoices": [invoice_api_summary(i) for i in invoice_list(tenant=tenant).prefetch_related("lines")]}


@api_view(["GET"])
def invoice_upcoming(request, tenant):
    preview = upcoming_invoice_preview(tenant=tenant)
    return {
        "billing_date": preview["billing_date"].isoformat(), "currency": preview["currency"],
        "plan": preview["plan"].code, "lines": preview["lines"],
        **{k: preview[k] for k in ("usage_amount", "credit_applied", "determined_amount", "tax_amount",
                                   "payment_amount")},
        "estimate": True,
    }


@api_view(["GET"])
def invoice_receipt(request, tenant, receipt_id):
    invoice = invoice_get_by_receipt(tenant=tenant, receipt_id=receipt_id)
    if invoice is None:
        raise NotFound(f"No invoice {receipt_id!r}.")
    return receipt_response(invoice=invoice)
