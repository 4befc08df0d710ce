"""Golden proration cases on calendar edges: a DST month in Los Angeles (USD), a leap February in Tokyo (JPY),
and the 31 → 30 day month boundary, through the real purchase and upgrade services."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from licenses.selectors import license_get, plan_get
from licenses.services import license_change_now, license_purchase
from tests.factories import TenantFactory
from tests.licenses.conftest import add_payment_account, add_payment_method

pytestmark = pytest.mark.django_db
LA, TOKYO = ZoneInfo("America/Los_Angeles"), ZoneInfo("Asia/Tokyo")


def ready(**kwargs):
    tenant = TenantFactory(**kwargs)
    add_payment_account(tenant)
    add_payment_method(tenant)
    return tenant


def test_a_dst_month_in_los_angeles_prorates_by_its_real_length_in_cents():
    tenant = ready(country="US", currency="USD", time_zone="America/Los_Angeles")
    # March 2027 in LA: DST starts on the 14th, so the month is 31 days less one hour = 2,674,800 s.
    with time_machine.travel(datetime(2027, 3, 22, tzinfo=LA), tick=False):
        change = license_purchase(tenant=tenant, plan=plan_get(code="business", currency="USD"))
    license = license_get(tenant=tenant)
    assert (license.current_period_end - license.current_period_start).total_seconds() == 2_674_800
    # $280.00 × 864,000 s left / 2,674,800 s = 9,044.4 cents → $90.44
    assert change.remaining_amount == 9_044


def test_a_leap_february_in_tokyo():
    tenant = ready()
    with time_machine.travel(datetime(2028, 2, 20, tzinfo=TOKYO), tick=False):
        change = license_purchase(tenant=tenant, plan=plan_get(code="starter", currency="JPY"))
    license = license_get(tenant=tenant)
    assert license.current_period_end == datetime(2028, 3, 1, tzinfo=TOKYO)
    assert change.remaining_amount == 8_621  # ¥25,000 × 10 of 29 days (20th–29th) = 8,620.7


def test_an_upgrade_in_the_last_second_of_a_30_day_month():
    tenant = ready()
    with time_machine.travel(datetime(2027, 4, 1, tzinfo=TOKYO), tick=False):
        license_purchase(tenant=tenant, plan=plan_get(code="starter", currency="JPY"))
    with time_machine.travel(datetime(2027, 4, 30, 23, 59, 59, tzinfo=TOKYO), tick=False):
        change = license_change_now(
            tenant=tenant, plan=plan_get(code="business", currency="JPY"), proration_behavior="always_invoice"
        )
    # 1 s of 2,592,000: remaining ¥28,000 × 1/2,592,000 rounds to ¥0, the difference too; nothing billed for it.
    assert (change.unused_amount, change.remaining_amount, change.difference_amount) == (0, 0, 0)
    assert license_get(tenant=tenant).plan.code == "business"
