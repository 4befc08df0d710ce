from django.urls import path

from . import contract_views, member_views, views

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
    path("members/", member_views.member_list, name="member_list"),
    path("members/invite/", member_views.member_invite, name="member_invite"),
    path("members/<int:membership_id>/role/", member_views.member_role_change, name="member_role_change"),
    path("members/<int:membership_id>/remove/", member_views.member_remove, name="member_remove"),
    path("audit-log/", member_views.audit_log, name="audit_log"),
    path("contract/", contract_views.contract, name="contract"),
    path("contract/cancel/", contract_views.contract_cancel, name="contract_cancel"),
    path("contract/unsubscribe/", contract_views.unsubscribe, name="unsubscribe"),
]
