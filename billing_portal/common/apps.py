from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "billing_portal.common"
    label = "common"
