"""Operator API of this app, mounted under /api/v1/tenants/<tenant>/. Wrap each view with common.api.api_view."""

from django.urls import path

from . import api_views

urlpatterns = [
    path("invoices", api_views.invoices, name="api_invoices"),
    path("invoices/upcoming", api_views.invoice_upcoming, name="api_invoice_upcoming"),
    path("invoices/<str:receipt_id>/receipt.pdf", api_views.invoice_receipt, name="api_invoice_receipt"),
]
