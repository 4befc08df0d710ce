"""Demo state of metering for `make run`: RPs, a few months of authentication events, usage, an alert setting."""

import random
from datetime import timedelta

from accounts.models import RelyingParty
from billing_portal.common import clock

from .models import AuthEvent, MauAlertSetting, MeteringUnit
from .services import auth_events_ingest, meter_reading_put

DEMO_UNITS = [("api_calls", "API calls", "sum"), ("disk_bytes", "Disk usage (bytes)", "max")]


def seed(*, tenants, users, stdout):
    for unit_name, display_name, aggregation in DEMO_UNITS:
        MeteringUnit.objects.get_or_create(
            unit_name=unit_name, defaults={"display_name": display_name, "aggregation": aggregation}
        )
    for index, (slug, tenant) in enumerate(sorted(tenants.items())):
        # the RPs licenses/demo.py registered (within the license's limit)
        rps = list(RelyingParty.objects.filter(tenant=tenant).order_by("pk").values_list("rp_id", flat=True))
        if not rps or AuthEvent.objects.filter(tenant=tenant).exists():
            continue
        rng = random.Random(slug)  # noqa: S311 - demo data
        now = clock.now()
        events = []
        for days_ago in range(0, 330, 3):
            when = now - timedelta(days=days_ago, hours=rng.randint(0, 20))
            growth = 1 + (330 - days_ago) / 330
            for n in range(int(rng.randint(4, 8) * growth * (index + 1))):
                events.append(
                    {
                        "id": f"demo-{slug}-{days_ago}-{n}",
                        "rp": rng.choice(rps[: 1 + (n % len(rps))]),
                        "user_id": f"user-{rng.randint(1, int(60 * growth * (index + 1)))}",
                        "occurred_at": when.isoformat(),
                    }
                )
        for start in range(0, len(events), 5000):
            auth_events_ingest(tenant=tenant, events=events[start : start + 5000])
        for days_ago in range(0, 60, 5):
            when = (now - timedelta(days=days_ago)).replace(microsecond=0)
            for rp in rps[:2]:
                meter_reading_put(
                    tenant=tenant,
                    unit_name="api_calls",
                    timestamp=when,
                    method="add",
                    count=rng.randint(100, 900),
                    rp_id=rp,
                )
                meter_reading_put(
                    tenant=tenant,
                    unit_name="disk_bytes",
                    timestamp=when,
                    method="direct",
                    count=rng.randint(10, 90) * 1_000_000,
                    rp_id=rp,
                )
        MauAlertSetting.objects.get_or_create(
            tenant=tenant, defaults={"notify_representative": True, "threshold": 100_000}
        )
    stdout.write("  metering: RPs, MAU history, API-call and disk usage, MAU alert settings")
