from django.db import migrations

FREE_LIMITS = {"max_rps": 1, "max_users": 100, "max_mau": None}


def seed(apps, schema_editor):
    Plan = apps.get_model("licenses", "Plan")
    for currency in ("JPY", "USD"):
        Plan.objects.update_or_create(
            code="free",
            currency=currency,
            defaults={
                "name": "Free",
                "category": "license",
                "license_type": "free",
                "interval": "month",
                "sort_order": 0,
                **FREE_LIMITS,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("licenses", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
