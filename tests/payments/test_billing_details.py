import time_machine
from django.urls import reverse

from accounts.models import RelyingParty
from licenses.models import Menu, PricingUnit
from licenses.selectors import plan_get
from metering.models import MeteringUnit
from metering.services import auth_events_ingest, meter_reading_put
from tests.licenses.conftest import buy, jst


def test_billing_details_per_channel_with_fees_and_the_current_month_marked(owner_client, tenant):
    starter = plan_get(code="starter", currency="JPY")
    calls = MeteringUnit.objects.create(unit_name="api_calls", display_name="API calls", aggregation="sum")
    disk = MeteringUnit.objects.create(unit_name="disk_bytes", display_name="Disk usage", aggregation="max")
    menu = Menu.objects.create(name="usage", display_name="Usage")
    menu.units.add(
        PricingUnit.objects.create(
            unit_name="api-call-fee",
            display_name="API calls",
            type="usage",
            metering_unit=calls,
            currency="JPY",
            unit_amount=2,
        ),
        PricingUnit.objects.create(
            unit_name="disk-fee",
            display_name="Disk",
            type="usage",
            metering_unit=disk,
            currency="JPY",
            unit_amount=1,
        ),
    )
    starter.menus.add(menu)
    buy(tenant, "starter", jst(2027, 3, 1))
    RelyingParty.objects.create(tenant=tenant, rp_id="login.example")
    with time_machine.travel(jst(2027, 3, 20), tick=False):
        auth_events_ingest(
            tenant=tenant,
            events=[
                {
                    "id": f"e{i}",
                    "rp": "login.example",
                    "user_id": f"u{i % 3}",
                    "occurred_at": jst(2027, 3, 19).isoformat(),
                }
                for i in range(5)
            ],
        )
        meter_reading_put(
            tenant=tenant,
            unit_name="api_calls",
            timestamp=jst(2027, 3, 19),
            method="add",
            count=120,
            rp_id="login.example",
        )
        meter_reading_put(
            tenant=tenant,
            unit_name="disk_bytes",
            timestamp=jst(2027, 3, 19),
            method="direct",
            count=300,
            rp_id="login.example",
        )
        owner_client.force_login(tenant.representative)
        body = owner_client.get(reverse("billing_information", args=[tenant.slug])).content.decode()
        bad = owner_client.get(
            reverse("billing_information", args=[tenant.slug]), {"period": "1999-01"}, follow=True
        )
    for text in [
        "Billing details",
        "Channel: login.example",
        "3 MAU",
        "5 calls",
        "120 calls",
        "300 bytes",
        "may differ from the final bill",
        "API usage fee",
        "¥240",
        "Disk usage fee",
        "¥300",
        "Base fee",
        "¥25,000",
        "¥25,540",
    ]:
        assert text in body, text
    assert "Choose one of the listed months." in bad.content.decode()
