from django.urls import path

from . import views

urlpatterns = [
    path("", views.tenant_home, name="tenant_home"),
    path("dashboard/", views.billing_dashboard, name="billing_dashboard"),
    path("customer/", views.customer_view, name="customer_view"),
    path("customer/edit/", views.customer_edit, name="customer_edit"),
    path("customer/representative/", views.representative_change, name="representative_change"),
    path(
        "customer/payment-administrator/",
        views.payment_administrator_change,
        name="payment_administrator_change",
    ),
]
