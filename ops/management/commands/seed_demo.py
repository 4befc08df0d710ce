"""Demo data for `make run`: tenants in each billing-dashboard state and one login per role.

Idempotent: running it again leaves existing demo data as it is.
"""

from importlib import import_module

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Membership, Role, Tenant
from accounts.services import tenant_create

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - demo data only

# (e-mail, name, staff?)
DEMO_USERS = [
    ("admin@demo.example", "Ops Admin", True),
    ("owner@demo.example", "Olivia Owner", False),
    ("billing@demo.example", "Ben Billing", False),
    ("manager@demo.example", "Mina Manager", False),
    ("member@demo.example", "Max Member", False),
]

# slug, name, currency, country, dashboard state (see DESIGN.md flow 2)
DEMO_TENANTS = [
    ("acme", "Acme Corporation", "JPY", "JP", "1: no payment account"),
    ("beta", "Beta Systems K.K.", "JPY", "JP", "2: payment account, Free license"),
    ("gamma", "Gamma Cloud Inc.", "USD", "US", "3: paid license"),
    ("delta", "Delta Finance K.K.", "JPY", "JP", "4: downgrade reserved"),
]

DEMO_APPS = ["payments", "licenses", "metering", "ops"]

ROLES_IN_EVERY_TENANT = [
    ("billing@demo.example", Role.BILLING_ADMIN),
    ("manager@demo.example", Role.MANAGER),
    ("member@demo.example", Role.MEMBER),
]


class Command(BaseCommand):
    help = "Create demo tenants and users (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        users = {}
        for email, name, staff in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email=email, password=DEMO_PASSWORD, name=name, is_staff=staff, is_superuser=staff
                )
            users[email] = user

        tenants = {}
        for slug, name, currency, country, state in DEMO_TENANTS:
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                tenant = tenant_create(
                    owner=users["owner@demo.example"],
                    name=name,
                    slug=slug,
                    currency=currency,
                    country=country,
                    address="1-2-3 Marunouchi, Chiyoda-ku, Tokyo"
                    if country == "JP"
                    else "100 Market St, San Francisco, CA",
                    phone="+81 3-1234-5678" if country == "JP" else "+1 415-555-0100",
                    time_zone="Asia/Tokyo" if country == "JP" else "America/Los_Angeles",
                )
            for email, role in ROLES_IN_EVERY_TENANT:
                Membership.objects.get_or_create(tenant=tenant, user=users[email], defaults={"role": role})
            tenants[slug] = tenant
            self.stdout.write(f"  tenant {name:<22} /t/{slug}/   state {state}")

        # Each app brings its tenants into their demo state: `<app>/demo.py` with `seed(tenants, users, stdout)`.
        for app in DEMO_APPS:
            try:
                module = import_module(f"{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.demo":
                    raise
                continue
            module.seed(tenants=tenants, users=users, stdout=self.stdout)

        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for email, _name, staff in DEMO_USERS:
            role = (
                "staff (Django admin)"
                if staff
                else next((r.label for e, r in ROLES_IN_EVERY_TENANT if e == email), "owner")
            )
            self.stdout.write(f"  {email:<24} {role}")
