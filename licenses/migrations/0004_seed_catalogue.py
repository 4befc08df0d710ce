"""Seed the catalogue: Starter, Business, Enterprise in JPY and USD (Free exists since 0002) and a support plan.

Each plan has one menu with one fixed monthly unit (the license fee). Amounts are minor units.
"""

from django.db import migrations

# code, name, sort, max_rps, max_users, max_mau, {currency: (monthly fee, MAU overage unit price)}
LICENSE_PLANS = [
    ("starter", "Starter", 10, 3, 10_000, 1_000, {"JPY": (25_000, 30), "USD": (25_000, 25)}),
    ("business", "Business", 20, 10, 100_000, 10_000, {"JPY": (28_000, 20), "USD": (28_000, 18)}),
    ("enterprise", "Enterprise", 30, None, None, 100_000, {"JPY": (150_000, 10), "USD": (150_000, 9)}),
]
# Free keeps its limits from 0002; it gets a ¥0 / $0 fee unit so that its invoice lines exist too.
SUPPORT = ("premium-support", "Premium support", {"JPY": 50_000, "USD": 40_000})


def seed(apps, schema_editor):
    Plan = apps.get_model("licenses", "Plan")
    Menu = apps.get_model("licenses", "Menu")
    PricingUnit = apps.get_model("licenses", "PricingUnit")

    def fee_menu(code, name, currency, amount):
        slug = f"{code}-{currency.lower()}"
        unit, _ = PricingUnit.objects.get_or_create(
            unit_name=f"{slug}-fee",
            defaults={"display_name": f"{name} license fee", "type": "fixed", "currency": currency,
                      "interval": "month", "unit_amount": amount},
        )
        menu, _ = Menu.objects.get_or_create(name=slug, defaults={"display_name": f"{name} ({currency})"})
        menu.units.add(unit)
        return menu

    for currency in ("JPY", "USD"):
        free = Plan.objects.get(code="free", currency=currency)
        free.menus.add(fee_menu("free", "Free", currency, 0))
        for code, name, sort, max_rps, max_users, max_mau, prices in LICENSE_PLANS:
            fee, overage = prices[currency]
            plan, _ = Plan.objects.update_or_create(
                code=code, currency=currency,
                defaults={"name": name, "category": "license", "license_type": code, "interval": "month",
                          "sort_order": sort, "max_rps": max_rps, "max_users": max_users, "max_mau": max_mau,
                          "mau_overage_unit_amount": overage},
            )
            plan.menus.add(fee_menu(code, name, currency, fee))
        code, name, prices = SUPPORT
        plan, _ = Plan.objects.update_or_create(
            code=code, currency=currency,
            defaults={"name": name, "category": "support", "license_type": "", "interval": "month",
                      "sort_order": 100, "max_rps": None, "max_users": None, "max_mau": None},
        )
        plan.menus.add(fee_menu(code, name, currency, prices[currency]))


class Migration(migrations.Migration):
    dependencies = [("licenses", "0003_catalogue_and_lifecycle")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
