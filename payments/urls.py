"""Tenant-scoped pages of this app, mounted under /t/<tenant_slug>/. Wrap each view with accounts.permissions.tenant_view."""

from django.urls import path

from . import invoice_views, views

urlpatterns = [
    path("billing/", views.billing_information, name="billing_information"),
    path("billing/payment-account/create/", views.payment_account_create, name="payment_account_create"),
    path("billing/customer-portal/", views.customer_portal, name="customer_portal"),
    path("billing/stripe-portal-standin/", views.stripe_portal_standin, name="stripe_portal_standin"),
    path("billing/card/register/", views.card_register, name="card_register"),
    path("billing/card/setup-intent/", views.card_setup_intent, name="card_setup_intent"),
    path("billing/card/complete/", views.card_setup_complete, name="card_setup_complete"),
    path("billing/card/<int:pk>/remove/", views.card_remove, name="card_remove"),
    path("billing/payment-method/", views.payment_method_choose, name="payment_method_choose"),
    path("billing/transfer/payer-name/", views.transfer_payer_name, name="transfer_payer_name"),
    path("billing/credits/register/", invoice_views.credit_code_register, name="credit_code_register"),
    path("billing/promotion-code/", invoice_views.promotion_code_confirm, name="promotion_code_confirm"),
    path("billing/receipts/<str:receipt_id>.pdf", invoice_views.receipt_download, name="receipt_download"),
    path(
        "billing/invoices/<str:identifier>/invoice.pdf",
        invoice_views.invoice_download,
        name="invoice_document",
    ),
    path("billing/invoices/<str:receipt_id>/pay/", invoice_views.invoice_pay, name="invoice_pay"),
    path("billing/invoices/<str:receipt_id>/pay-now/", invoice_views.invoice_pay_now, name="invoice_pay_now"),
]
