"""Demo state of the operator's cockpit: a test tenant `rehearsal` on its own clock (starting now), owned by the
demo owner, for ops to try test clocks (admin → Test clocks → Advance…). Idempotent."""

from accounts.models import Membership, Tenant
from billing_portal.common import clock

from .test_clocks import test_clock_create


def seed(*, tenants, users, stdout):
    owner = users.get("owner@demo.example")
    if owner is None or Tenant.objects.filter(test_clock__tenant__slug="rehearsal").exists():
        return
    if Tenant.objects.filter(slug="rehearsal").exists():
        return  # a real tenant took the name: leave it alone
    test_clock = test_clock_create(
        owner=owner,
        name="Rehearsal K.K. (test clock)",
        slug="rehearsal",
        frozen_time=clock.system_now(),
        address="1-2-3 Marunouchi, Chiyoda-ku, Tokyo",
    )
    for email in ("billing@demo.example", "manager@demo.example"):
        if email in users:
            Membership.objects.get_or_create(
                tenant=test_clock.tenant,
                user=users[email],
                defaults={"role": "billing_admin" if email.startswith("billing") else "manager"},
            )
    stdout.write("  ops: rehearsal is a test tenant on its own clock (advance it in admin → Test clocks)")
