import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing_portal.common.addresses import COUNTRY_NAMES, PREFECTURE_CHOICES, format_address
from billing_portal.common.money import CURRENCY_CHOICES


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with e-mail and password. One user may belong to several tenants."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField(_("e-mail address"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    # The portal's and e-mails' language for this person; empty: the browser's (Accept-Language).
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        default="",
        choices=settings.LANGUAGES,
        help_text=_("Empty: the browser's language."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.display_name

    @property
    def display_name(self):
        return self.name or self.email

    def get_full_name(self):
        return self.display_name

    def get_short_name(self):
        return self.display_name


class DocumentLanguage(models.TextChoices):
    """The language a tenant's documents (invoice, receipt, credit note PDFs) are printed in."""

    JA = "ja", _("Japanese")
    EN = "en", _("English")


class Tenant(models.Model):
    """A customer organisation."""

    class SalesModel(models.TextChoices):
        SELF_SERVE = "self_serve", _("Self-serve")
        SALES_LED = "sales_led", _("Sales-led")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    slug = models.SlugField(
        _("slug"), max_length=64, unique=True, help_text=_("Identifier used in URLs and the API.")
    )
    name = models.CharField(_("customer name"), max_length=200)
    # The address in three parts: 〒 postal code, prefecture (都道府県), the rest (city, street, building).
    postal_code = models.CharField(_("postal code"), max_length=8, blank=True, help_text=_("e.g. 100-0005"))
    prefecture = models.CharField(_("prefecture"), max_length=2, blank=True, choices=PREFECTURE_CHOICES)
    address = models.CharField(
        _("customer address"),
        max_length=300,
        blank=True,
        help_text=_("City, street and building (after the prefecture)."),
    )
    phone = models.CharField(_("customer phone number"), max_length=40, blank=True)
    country = models.CharField(
        _("country"), max_length=2, default="JP", help_text=_("ISO 3166-1 alpha-2 code, e.g. JP, US.")
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="JPY")
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Tokyo")
    document_language = models.CharField(
        _("document language"),
        max_length=2,
        choices=DocumentLanguage.choices,
        default=DocumentLanguage.JA,
        help_text=_("The language of invoices, receipts and credit notes (PDF)."),
    )
    sales_model = models.CharField(
        _("sales model"), max_length=16, choices=SalesModel.choices, default=SalesModel.SELF_SERVE
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    representative = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("representative"),
    )
    payment_administrator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("payment administrator"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self):
        return self.name

    @property
    def country_name(self) -> str:
        """「日本（JP）」 / "Japan (JP)"; the bare code for other countries."""
        from django.utils.translation import gettext

        name = COUNTRY_NAMES.get((self.country or "").upper())
        return gettext("%(name)s (%(code)s)") % {"name": name, "code": self.country} if name else self.country

    @property
    def postal_address(self) -> str:
        """The whole address in its own script's order: 〒100-0005 東京都千代田区… / 1-2-3 Marunouchi, …, Tokyo 100-0005."""
        return format_address(postal_code=self.postal_code, prefecture=self.prefecture, address=self.address)


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    BILLING_ADMIN = "billing_admin", _("Billing admin")
    MANAGER = "manager", _("Manager")
    MEMBER = "member", _("Member")


# Who may do what. Views name one of these sets rather than listing roles.
BILLING_EDIT_ROLES = frozenset({Role.OWNER, Role.BILLING_ADMIN})
# What only owners may do: members, audit log, API keys, changing the representative or the payment
# administrator, cancelling the contract, unsubscribing (enforced by the views and by the services).
OWNER_ONLY = frozenset({Role.OWNER})
BILLING_VIEW_ROLES = frozenset({Role.OWNER, Role.BILLING_ADMIN, Role.MANAGER})
ALL_ROLES = frozenset(Role)


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tenant")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["tenant__name", "user__email"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="uniq_membership_user_tenant")]

    def __str__(self):
        return _("%(user)s in %(tenant)s (%(role)s)") % {
            "user": self.user,
            "tenant": self.tenant,
            "role": self.get_role_display(),
        }


class RelyingParty(models.Model):
    """A registered RP (channel) of the tenant; counts against the license's max RPs."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="relying_parties", verbose_name=_("tenant")
    )
    rp_id = models.CharField(_("RP ID"), max_length=255, help_text=_("e.g. login.example.com"))
    name = models.CharField(_("name"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)

    class Meta:
        ordering = ["rp_id"]
        verbose_name = _("relying party")
        verbose_name_plural = _("relying parties")
        constraints = [models.UniqueConstraint(fields=["tenant", "rp_id"], name="uniq_rp_per_tenant")]

    def __str__(self):
        return self.rp_id


class EndUser(models.Model):
    """A registered end user of the tenant's service; counts against the license's max users."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="end_users", verbose_name=_("tenant")
    )
    user_id = models.CharField(_("user ID"), max_length=255)
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)

    class Meta:
        ordering = ["user_id"]
        verbose_name = _("end user")
        verbose_name_plural = _("end users")
        constraints = [models.UniqueConstraint(fields=["tenant", "user_id"], name="uniq_end_user_per_tenant")]

    def __str__(self):
        return self.user_id


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    """A bearer key for the operator API. Only the SHA-256 of the key is stored; the key is shown once."""

    class Scope(models.TextChoices):
        PLATFORM = "platform", _("Platform (all tenants)")
        TENANT = "tenant", _("One tenant")

    PREFIX_LENGTH = 8

    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices, default=Scope.TENANT)
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_keys",
        verbose_name=_("tenant"),
    )
    prefix = models.CharField(_("prefix"), max_length=16, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope="platform", tenant__isnull=True)
                    | models.Q(scope="tenant", tenant__isnull=False)
                ),
                name="api_key_scope_matches_tenant",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate_raw_key() -> str:
        return "bp_" + secrets.token_urlsafe(32)

    @property
    def is_active(self):
        return self.revoked_at is None


class ApiIdempotencyKey(models.Model):
    """A write made with an `Idempotency-Key` header and the answer it got, kept 24 hours so that a retry with the
    same key replays the answer instead of writing again (accounts.api_idempotency). The row is written in the
    same transaction as the write itself; the unique constraint makes a concurrent retry wait for it."""

    TTL_HOURS = 24

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path and JSON body.")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True, help_text="Empty while the request runs.")
    response_body = models.BinaryField(default=bytes)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "API idempotency key"
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="uniq_idempotency_key_per_api_key")
        ]

    def __str__(self):
        return f"{self.key} ({self.method} {self.path})"


class Invitation(models.Model):
    """An owner's invitation for an e-mail address to join the tenant with a role. Only the token's hash is kept."""

    VALID_DAYS = 7

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("tenant")
    )
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    created_at = models.DateTimeField(_("sent"))
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("accepted by"),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self):
        return f"{self.email} → {self.tenant} ({self.get_role_display()})"

    def is_open(self, at) -> bool:
        return self.accepted_at is None and self.revoked_at is None and at < self.expires_at


class AuditEntry(models.Model):
    """Append-only record of a financial or permission change: who did what to which tenant, with what data."""

    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("tenant"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_label = models.CharField(
        _("actor name"),
        max_length=200,
        blank=True,
        help_text=_("Who acted, kept even if the user is deleted."),
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

    def __str__(self):
        from billing_portal.common.clock import local_text

        tz = self.tenant.time_zone if self.tenant_id else settings.BILLING_TIME_ZONE
        return f"{local_text(self.created_at, tz)} {self.action}"

    @property
    def action_label(self) -> str:
        """What the action is called in the page's language ("License purchased"); the code if it has no name."""
        from .audit import action_label

        return action_label(self.action)
