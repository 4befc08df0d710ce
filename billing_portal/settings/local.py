"""Development settings used by `make run`."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "local-development-only-not-secret")

from .base import *  # noqa: E402,F403
from .base import env, env_bool  # noqa: E402

DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
