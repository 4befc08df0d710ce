"""Development settings used by `make run`."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "local-development-only-not-secret")

# A sample bank account and invoice registration number (not real ones) for the demo and the tests; production
# sets its own (README).
for _name, _value in {
    "BANK_TRANSFER_BANK_NAME": "サンプル銀行",
    "BANK_TRANSFER_BANK_CODE": "9999",
    "BANK_TRANSFER_BRANCH_NAME": "本店営業部",
    "BANK_TRANSFER_BRANCH_CODE": "001",
    "BANK_TRANSFER_ACCOUNT_NUMBER": "1234567",
    "BANK_TRANSFER_ACCOUNT_HOLDER": "ｶ)ｴｸﾞｻﾞﾝﾌﾟﾙ",
    "INVOICE_REGISTRATION_NUMBER": "T7123456789012",  # a sample with a valid check digit, not a real one
}.items():
    os.environ.setdefault(_name, _value)

from .base import *  # noqa: E402,F403
from .base import env, env_bool  # noqa: E402

DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
