from django.urls import path

from . import member_views, views

urlpatterns = [
    path("", views.tenant_home, name="tenant_home"),
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
]
