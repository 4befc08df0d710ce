"""Settings shared by every environment. Everything that differs comes from environment variables."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name, default=None, *, required=False):
    value = os.environ.get(name)
    if value in (None, ""):
        if required:
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default
    return value


def env_bool(name, default=False):
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


SECRET_KEY = env("DJANGO_SECRET_KEY", required=True)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "ninja",  # the operator API's docs page and its Swagger UI assets (served as this site's static files)
    "billing_portal.common",
    "accounts",
    "licenses",
    "metering",
    "payments",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "billing_portal.common.middleware.RejectNulBytesMiddleware",
    "billing_portal.common.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # language: cookie, else the browser's Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.UserLanguageMiddleware",  # a signed-in user's saved language wins over the browser
    "billing_portal.common.middleware.OperatorTimeZoneMiddleware",
    "ops.middleware.TenantClockMiddleware",  # a test tenant's pages and API run on its test clock
]

ROOT_URLCONF = "billing_portal.urls"
WSGI_APPLICATION = "billing_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.tenant_context",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/billing_portal"),
        conn_max_age=int(env("DATABASE_CONN_MAX_AGE", "60")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
# The cache (rate limits, API key last-use marker) fails open with a logged warning when Redis is down; sessions
# are in the database. Short timeouts and one quick retry keep an outage from stalling requests.
REDIS_TIMEOUT_SECONDS = float(env("REDIS_TIMEOUT_SECONDS", "0.5"))
CACHES = {
    "default": {
        "BACKEND": "billing_portal.common.cache.FailOpenRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", "bp"),
        "OPTIONS": {
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
            "retry": Retry(NoBackoff(), 1),
        },
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"  # not the cache: sign-in must survive a Redis outage

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# django-allauth: e-mail + password, no usernames.
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupForm"
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# Password sign-in is throttled by accounts.login_throttle (per account+address, per address, per account; a
# browser that signed in before is not locked out by others). allauth's "login_failed" here only guards the
# authenticator-code step (per user).
ACCOUNT_RATE_LIMITS = {"login_failed": "5/5m/key"}
LOGIN_THROTTLE = {
    "pair": (int(env("LOGIN_THROTTLE_PAIR", "5")), 15 * 60),
    "ip": (int(env("LOGIN_THROTTLE_IP", "30")), 15 * 60),
    "account": (int(env("LOGIN_THROTTLE_ACCOUNT", "20")), 60 * 60),
}
# Reverse proxies whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated); empty: none.
TRUSTED_PROXIES = env_list("DJANGO_TRUSTED_PROXIES", "")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Japanese and English. A signed-in user's saved language (User.language, the header's switcher) wins; otherwise
# the language cookie, then the browser's Accept-Language, then LANGUAGE_CODE. Catalogues: locale/<lang>/, the
# compiled .mo files are committed (`python scripts/i18n.py compile`, pure Python; checked by the tests).
LANGUAGE_CODE = env("DJANGO_LANGUAGE_CODE", "en")
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Date formats per language (billing_portal/formats/<lang>/formats.py): 2026年11月22日 in Japanese.
FORMAT_MODULE_PATH = ["billing_portal.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Billing periods are calendar months in the tenant's time zone; this is the default for new tenants.
BILLING_TIME_ZONE = env("BILLING_TIME_ZONE", "Asia/Tokyo")
DEFAULT_CURRENCY = env("DEFAULT_CURRENCY", "JPY")
DEFAULT_COUNTRY = env("DEFAULT_COUNTRY", "JP")

STATIC_URL = "static/"
STATIC_ROOT = env("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "billing@localhost")

# Celery: Redis broker, beat schedule in code.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {}

# Stripe. Unset STRIPE_API_BASE talks to real Stripe; `make run` and the tests point it at the local stand-in.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env("STRIPE_API_BASE", "")

# Seller details printed on invoices, receipts and credit notes.
SELLER_NAME = env("SELLER_NAME", "Example FIDO2 Service K.K.")
SELLER_ADDRESS = env("SELLER_ADDRESS", "1-1 Chiyoda, Chiyoda-ku, Tokyo, Japan")
# The seller's qualified invoice issuer registration number (適格請求書発行事業者登録番号): "T" + 13 digits, the
# first a check digit (National Tax Agency). Printed on every document; `manage.py check` validates it
# (payments.E001 malformed, payments.W001 unset: the invoices are then not qualified invoices).
INVOICE_REGISTRATION_NUMBER = env("INVOICE_REGISTRATION_NUMBER", "")
# How the consumption tax of each rate is rounded, once per rate per invoice: half_up | floor | ceil.
INVOICE_TAX_ROUNDING = env("INVOICE_TAX_ROUNDING", "half_up")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}

# Bank transfer (振込): the operator's account, shown on the billing pages, invoices and reminders of tenants who
# pay by invoice. Unset (the production default), pages say the account is given on the invoice by the operator.
BANK_TRANSFER_ACCOUNT = {
    "bank_name": env("BANK_TRANSFER_BANK_NAME", ""),  # e.g. みずほ銀行
    "bank_code": env("BANK_TRANSFER_BANK_CODE", ""),  # 4 digits (金融機関コード)
    "branch_name": env("BANK_TRANSFER_BRANCH_NAME", ""),  # e.g. 本店営業部
    "branch_code": env("BANK_TRANSFER_BRANCH_CODE", ""),  # 3 digits (支店コード)
    "account_type": env(
        "BANK_TRANSFER_ACCOUNT_TYPE", "ordinary"
    ),  # ordinary (普通) | current (当座) | savings (貯蓄)
    "account_number": env("BANK_TRANSFER_ACCOUNT_NUMBER", ""),  # 7 digits
    "account_holder": env("BANK_TRANSFER_ACCOUNT_HOLDER", ""),  # as the bank prints it, e.g. ｶ)ｴｸﾞｻﾞﾝﾌﾟﾙ
}
# Due date of bank-transfer invoices: the end of the billing month plus this many months (0: 月末払い, 1: 翌月末払い),
# moved to the previous bank business day when it falls on a weekend or 31 Dec – 3 Jan.
BANK_TRANSFER_DUE_MONTHS = int(env("BANK_TRANSFER_DUE_MONTHS", "0"))
# Reminder e-mails about unpaid bank-transfer invoices, in days relative to the due date (payments.TransferReminder).
CELERY_BEAT_SCHEDULE["transfer-reminders"] = {
    "task": "payments.tasks.transfer_reminders_tick",
    "schedule": 60 * 60,
}

# Absolute base URL used in e-mails (links to invitations, receipts, payment pages).
PORTAL_BASE_URL = env("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# Staff multi-factor authentication (allauth.mfa, TOTP + recovery codes). When required, staff must set up an
# authenticator app before Django admin opens for them.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", "Billing portal")
STAFF_MFA_REQUIRED = env_bool("STAFF_MFA_REQUIRED", False)

# Content-Security-Policy: this site's own scripts and styles only; Stripe.js (or the local stand-in) for cards.
_STRIPE_JS_ORIGINS = ["https://js.stripe.com", "https://*.stripe.com"]
if STRIPE_API_BASE:
    _STRIPE_JS_ORIGINS.append(STRIPE_API_BASE.rstrip("/"))
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", *_STRIPE_JS_ORIGINS],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'", *_STRIPE_JS_ORIGINS, "https://api.stripe.com"],
    "frame-src": ["'self'", *_STRIPE_JS_ORIGINS, "https://hooks.stripe.com"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}

# Licenses: renew, apply reserved changes and expire cancelled licenses shortly after each period end.
# Operator API: the largest request body (JSON) accepted, in bytes; larger ones get 413 payload_too_large. 8 MiB
# holds the documented 10,000-event ingest batch with room to spare (~5.5 MB with typical ids, up to ~830 bytes
# per event). Django's own limit for request bodies is the same, so that it is this one that applies.
API_MAX_BODY_BYTES = int(env("API_MAX_BODY_BYTES", str(8 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Idempotency keys of the operator API are kept 24 hours; the expired ones are purged hourly.
CELERY_BEAT_SCHEDULE["api-idempotency-keys-purge"] = {
    "task": "accounts.tasks.idempotency_keys_purge_tick",
    "schedule": 60 * 60,
}

CELERY_BEAT_SCHEDULE["licenses-roll-over"] = {
    "task": "licenses.tasks.licenses_roll_over_due",
    "schedule": 15 * 60,
}

# Consumption tax applied to invoices (exclusive), rounded once per rate per invoice (INVOICE_TAX_ROUNDING).
# Japan: 10% standard; 8% reduced for pricing units whose tax category is "reduced".
BILLING_TAX_RATE = env("BILLING_TAX_RATE", "0.10")
BILLING_REDUCED_TAX_RATE = env("BILLING_REDUCED_TAX_RATE", "0.08")
BILLING_TAX_LABEL = env("BILLING_TAX_LABEL", "Consumption tax")
# E-bookkeeping archive (電子帳簿保存法, docs/archive.md): every issued invoice, receipt and credit note PDF is kept
# with its SHA-256 for at least this many years (10 for companies with loss carry-forwards). Nothing is ever
# deleted automatically; the archive sweep stores what a lost task message left.
DOCUMENT_RETENTION_YEARS = int(env("DOCUMENT_RETENTION_YEARS", "7"))
CELERY_BEAT_SCHEDULE["documents-archive-sweep"] = {
    "task": "payments.tasks.documents_archive_sweep",
    "schedule": 15 * 60,
}
# Hours after a month begins (tenant time zone) before its monthly invoice is issued, so late authentication
# events of the month that ended are still billed on it. Events later than that become adjustment lines.
BILLING_LATE_EVENTS_GRACE_HOURS = int(env("BILLING_LATE_EVENTS_GRACE_HOURS", "0"))
# Billing cycle: invoices from the 1st and charges from the 5th, each in the tenant's time zone (hourly ticks;
# every step is idempotent, so a late or repeated tick does no harm).
CELERY_BEAT_SCHEDULE["billing-cycle"] = {"task": "payments.tasks.billing_cycle_tick", "schedule": 60 * 60}
CELERY_BEAT_SCHEDULE["charge-due-invoices"] = {"task": "payments.tasks.charge_due_tick", "schedule": 60 * 60}
# Finishes what a crash, a Redis outage or a lost message left: unbilled plan changes, charges whose outcome is
# unknown, failed webhooks (payments.charging.sweep.payments_sweep).
CELERY_BEAT_SCHEDULE["payments-sweep"] = {"task": "payments.tasks.payments_sweep_tick", "schedule": 5 * 60}

# Outgoing webhooks (ops.webhook_delivery): a beat task delivers what is due (retries, lost messages, attempts of
# dead workers). Endpoints on loopback, link-local or private addresses are refused unless this is true (set by
# the test settings and `make run` for local receivers; never in production).
OUTGOING_WEBHOOKS_ALLOW_PRIVATE = env_bool("OUTGOING_WEBHOOKS_ALLOW_PRIVATE", False)
CELERY_BEAT_SCHEDULE["outgoing-webhooks"] = {"task": "ops.tasks.webhooks_tick", "schedule": 60}

# Event store (metering/event_store.py, docs/scale.md): where authentication events and meter readings are counted.
# Unset or "postgres": PostgreSQL (the default). "clickhouse://user:password@host:8123/database" (clickhouses:// for
# TLS): ClickHouse through clickhouse-connect; the ingest API then queues batches in a PostgreSQL outbox that a beat
# task ships every EVENT_STORE_SHIP_SECONDS, up to EVENT_STORE_SHIP_ROWS outbox rows (requests) per batch.
# "chdb:///path?database=name": ClickHouse in-process (tests, benchmarks; one process per directory).
# EVENT_STORE_CLUSTER: a ClickHouse cluster name: the schema is created ON CLUSTER with Replicated… tables.
EVENT_STORE_URL = env("EVENT_STORE_URL", "")
# Raw authentication events (PostgreSQL event store) are partitioned by month (metering/partitions.py); the hourly
# beat task creates the coming months' partitions and drops those older than this many months before the current
# one. MAU is not affected (the first-seen tables stay); idempotency by event id holds within this window.
METERING_RAW_EVENTS_RETENTION_MONTHS = int(env("METERING_RAW_EVENTS_RETENTION_MONTHS", "13"))
CELERY_BEAT_SCHEDULE["event-partitions"] = {
    "task": "metering.tasks.event_partitions_tick",
    "schedule": 60 * 60,
}
EVENT_STORE_CLUSTER = env("EVENT_STORE_CLUSTER", "")
EVENT_STORE_SHIP_SECONDS = float(env("EVENT_STORE_SHIP_SECONDS", "5"))
EVENT_STORE_SHIP_ROWS = int(env("EVENT_STORE_SHIP_ROWS", "100"))
if EVENT_STORE_URL not in ("", "postgres", "postgresql"):
    CELERY_BEAT_SCHEDULE["event-store-ship"] = {
        "task": "metering.tasks.events_ship_tick",
        "schedule": EVENT_STORE_SHIP_SECONDS,
    }
