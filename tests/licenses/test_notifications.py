import time_machine
from django.core import mail

from accounts.models import AuditEntry
from licenses.selectors import plan_get
from licenses.services import (
    license_cancel,
    license_reservation_cancel,
    license_reserve_change,
    license_resume,
)
from tests.licenses.conftest import jst


def test_cancel_and_resume_are_audited_and_mailed_with_the_end_date(
    paid_tenant, owner, django_capture_on_commit_callbacks
):
    with time_machine.travel(jst(2027, 3, 10), tick=False), django_capture_on_commit_callbacks(execute=True):
        license_cancel(tenant=paid_tenant, actor=owner)
    entry = AuditEntry.objects.filter(tenant=paid_tenant, action="license.cancelled").get()
    assert entry.actor == owner and entry.data["plan"] == "Starter"
    message = mail.outbox[-1]
    assert message.subject == f"License cancelled: service ends on 2027-04-01 ({paid_tenant.name})"
    assert "Service continues until 2027-04-01 00:00 JST" in message.body
    assert message.to == [owner.email]
    with time_machine.travel(jst(2027, 3, 11), tick=False), django_capture_on_commit_callbacks(execute=True):
        license_resume(tenant=paid_tenant, actor=owner)
    assert AuditEntry.objects.filter(tenant=paid_tenant, action="license.resumed").exists()
    assert "renews automatically again" in mail.outbox[-1].body


def test_reservation_set_and_cancelled_are_audited_and_mailed(
    tenant, owner, django_capture_on_commit_callbacks
):
    from tests.licenses.conftest import buy

    buy(tenant, "business", jst(2027, 3, 1))
    with time_machine.travel(jst(2027, 3, 20), tick=False), django_capture_on_commit_callbacks(execute=True):
        license_reserve_change(tenant=tenant, plan=plan_get(code="starter", currency="JPY"), actor=owner)
        license_reservation_cancel(tenant=tenant, actor=owner)
    actions = list(AuditEntry.objects.filter(tenant=tenant).order_by("id").values_list("action", flat=True))
    assert actions[-2:] == ["license.reservation_set", "license.reservation_cancelled"]
    subjects = [m.subject for m in mail.outbox]
    assert f"License change reserved: Starter from 2027-04-01 ({tenant.name})" in subjects
    assert f"Reserved license change cancelled ({tenant.name})" in subjects
