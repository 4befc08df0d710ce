"""Operator API of payments: invoices, the next invoice's preview, receipts. Mounted by billing_portal/api.py."""

from typing import Literal

from ninja import Query, Router, Schema
from pydantic import Field

from accounts.api_auth import api_tenant
from billing_portal.common.api import TenantSlug, error_responses, text
from billing_portal.common.exceptions import NotFound
from payments.invoicing.pdf import document_kind_of, document_response
from payments.invoicing.preview import upcoming_invoice_preview
from payments.invoicing.receipts import receipt_response
from payments.invoicing.selectors import (
    invoice_api_summary,
    invoice_get_by_identifier,
    invoice_get_by_receipt,
    invoice_list,
)

router = Router(tags=["invoices"])
TENANT = "/tenants/{slug:tenant}"


class InvoiceLineOut(Schema):
    description: str
    quantity: str = Field(description="A decimal number as a string.", examples=["1"])
    unit_amount: int | None
    amount: int = Field(description="Minor units of the invoice's currency.")


class InvoiceOut(Schema):
    number: str
    receipt_id: str
    kind: str
    billing_date: str
    currency: str
    usage_amount: int
    credit_applied: int
    determined_amount: int
    tax_amount: int
    payment_amount: int
    status: str
    payment_method: str
    paid_at: str | None
    lines: list[InvoiceLineOut]


class InvoicesOut(Schema):
    invoices: list[InvoiceOut]


class PreviewLineOut(Schema):
    description: str
    amount: int
    category: str | None = None
    quantity: int | float | str | None = None
    unit_amount: int | None = None


class UpcomingInvoiceOut(Schema):
    billing_date: str
    currency: str
    plan: str
    lines: list[PreviewLineOut]
    usage_amount: int
    credit_applied: int
    determined_amount: int
    tax_amount: int
    payment_amount: int
    estimate: bool = Field(description="Always true: the final invoice may differ.")


@router.get(TENANT + "/invoices", response={200: InvoicesOut, **error_responses(400, 401, 403, 404)})
def invoices(request, tenant: TenantSlug):
    """The tenant's invoices, newest first, with their lines."""
    rows = invoice_list(tenant=api_tenant(request)).prefetch_related("lines")
    return {"invoices": [invoice_api_summary(i) for i in rows]}


@router.get(
    TENANT + "/invoices/upcoming",
    response={200: UpcomingInvoiceOut, **error_responses(400, 401, 403, 404)},
    exclude_unset=True,
)
def invoice_upcoming(request, tenant: TenantSlug):
    """What the next monthly invoice would be if the month ended now (an estimate; writes nothing)."""
    preview = upcoming_invoice_preview(tenant=api_tenant(request))
    return {
        "billing_date": preview["billing_date"].isoformat(),
        "currency": preview["currency"],
        "plan": preview["plan"].code,
        "lines": preview["lines"],
        **{
            k: preview[k]
            for k in ("usage_amount", "credit_applied", "determined_amount", "tax_amount", "payment_amount")
        },
        "estimate": True,
    }


RECEIPT_PDF = {
    200: {
        "description": "The receipt (領収書) as a PDF download.",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}
INVOICE_PDF = {
    200: {
        "description": "The invoice (請求書, a qualified invoice: 適格請求書) as a PDF download; for a credit note, "
        "its return invoice (適格返還請求書).",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class DocumentQuery(Schema):
    language: Literal["ja", "en"] | None = Field(
        None, description="The document's language; default: the tenant's document language."
    )


@router.get(
    TENANT + "/invoices/{receipt_id}/receipt.pdf",
    response={200: None, **error_responses(400, 401, 403, 404)},
    openapi_extra={"responses": RECEIPT_PDF},
)
def invoice_receipt(
    request, tenant: TenantSlug, receipt_id: text(32, min_length=1), query: Query[DocumentQuery]
):
    """The receipt (領収書) of a paid invoice (card or bank transfer), as a PDF: the amount received and the
    payment date. 404 `not_paid` while the invoice is not paid."""
    invoice = invoice_get_by_receipt(tenant=api_tenant(request), receipt_id=receipt_id)
    if invoice is None:
        raise NotFound(f"No invoice {receipt_id!r}.")
    return receipt_response(invoice=invoice, language=query.language)


@router.get(
    TENANT + "/invoices/{identifier}/invoice.pdf",
    response={200: None, **error_responses(400, 401, 403, 404)},
    openapi_extra={"responses": INVOICE_PDF},
)
def invoice_document(
    request, tenant: TenantSlug, identifier: text(32, min_length=1), query: Query[DocumentQuery]
):
    """The invoice as a PDF, from the moment it is issued: a qualified invoice (registration number, lines with
    their tax rate, amounts and tax per rate, due date, bank account and transfer reference for bank-transfer
    tenants). `identifier`: the receipt ID or the invoice number. For a credit note: its return invoice."""
    invoice = invoice_get_by_identifier(tenant=api_tenant(request), identifier=identifier)
    if invoice is None:
        raise NotFound(f"No invoice {identifier!r}.")
    return document_response(invoice=invoice, kind=document_kind_of(invoice), language=query.language)
