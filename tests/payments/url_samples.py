from datetime import date

from payments.invoicing.documents import invoice_issue
from tests.payments.factories import local_card


def _invoice(tenant):
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=f"sample-{tenant.pk}",
        billing_date=date(2026, 4, 1),
        lines=[{"description": "Base fee", "amount": 1000}],
    )
    return {"receipt_id": invoice.receipt_id}


def _paid_invoice(tenant):
    """Receipts exist once an invoice is paid: a ¥0 invoice is paid when it is issued."""
    invoice = invoice_issue(
        tenant=tenant,
        kind="monthly",
        source_key=f"sample-paid-{tenant.pk}",
        billing_date=date(2026, 5, 1),
        lines=[{"description": "Base fee", "amount": 0}],
    )
    return {"receipt_id": invoice.receipt_id}


SAMPLES = {
    "card_remove": lambda tenant: {"pk": local_card(tenant).pk},
    "receipt_download": _paid_invoice,
    "invoice_document": lambda tenant: {"identifier": _invoice(tenant)["receipt_id"]},
    "invoice_pay": _invoice,
    "invoice_pay_now": _invoice,
}
