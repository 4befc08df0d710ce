"""Settings for pytest: real PostgreSQL and Redis, fast hashing, mail kept in memory."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-secret")

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
from .base import CACHES, env, env_bool  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The invoicing benchmark turns this off so that e-mails are queued for workers, as in production.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", True)
CELERY_TASK_EAGER_PROPAGATES = True
CACHES["default"]["KEY_PREFIX"] = env("CACHE_KEY_PREFIX", f"bp-test-{os.getpid()}")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_RATE_LIMITS = False
OUTGOING_WEBHOOKS_ALLOW_PRIVATE = True  # the test receivers listen on 127.0.0.1
