import pytest
from django.core.cache import cache

from accounts.models import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory

SEEDED_APPS = {"accounts", "licenses", "metering", "payments"}


@pytest.fixture(scope="session")
def _seeded_rows(django_db_setup, django_db_blocker):
    """What the data migrations seeded in our apps (the plan catalogue, …), serialized once per session.
    (Content types and permissions are left out: a flush recreates them itself.)"""
    import json

    from django.db import connection

    with django_db_blocker.unblock():
        rows = json.loads(connection.creation.serialize_db_to_string())
    return json.dumps([row for row in rows if row["model"].split(".")[0] in SEEDED_APPS])


@pytest.fixture(autouse=True)
def _restore_seeded_rows(request, django_db_blocker):
    """Transactional tests (live server, concurrency) end by flushing every table, seeded rows included;
    put the migrations' seed data back before each of them so they see the database a deployment has."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (
        marker is not None and marker.kwargs.get("transaction")
    ) or "transactional_db" in request.fixturenames
    if transactional:
        from django.db import connection

        from licenses.models import Plan

        snapshot = request.getfixturevalue("_seeded_rows")
        request.getfixturevalue("transactional_db")
        with django_db_blocker.unblock():
            if not Plan.objects.exists():
                connection.creation.deserialize_db_from_string(snapshot)
    yield


@pytest.fixture(autouse=True)
def _clear_cache():
    """The cache is the real Redis; keep tests independent of each other. So is each worker's plan catalogue
    (payments.invoicing.cycle keeps priced plans for a minute: a plan changed by a rolled-back test would stay)."""
    from payments.invoicing import cycle

    cache.clear()
    cycle._plan_cache.clear()
    yield


@pytest.fixture
def tenant(db):
    return TenantFactory()


@pytest.fixture
def owner(tenant):
    return tenant.representative


@pytest.fixture
def member_with_role(tenant):
    def make(role):
        return MembershipFactory(tenant=tenant, role=role).user

    return make


@pytest.fixture
def billing_admin(member_with_role):
    return member_with_role(Role.BILLING_ADMIN)


@pytest.fixture
def manager(member_with_role):
    return member_with_role(Role.MANAGER)


@pytest.fixture
def plain_member(member_with_role):
    return member_with_role(Role.MEMBER)


@pytest.fixture
def other_tenant(db):
    return TenantFactory(name="Other Tenant Ltd.")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture(scope="session")
def _chdb_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def clickhouse_store(settings, _chdb_dir):
    """EVENT_STORE_URL on ClickHouse for this test: ClickHouse's engine in-process (PyPI chdb, the same SQL as a
    ClickHouse server), its tables emptied first. Ship the outbox with metering.event_outbox.events_ship_all()."""
    from metering import event_store

    settings.EVENT_STORE_URL = f"chdb://{_chdb_dir}?database=bp_test"
    store = event_store.current()
    assert store.name == "clickhouse"
    store.truncate()
    return store


@pytest.fixture(scope="session")
def clickhouse_http_url(tmp_path_factory):
    """An EVENT_STORE_URL for clickhouse-connect: ClickHouse's HTTP interface stood in by chdb in a child process
    (tests/metering/clickhouse_http_standin.py) on 127.0.0.1, stopped at the end of the session."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = Path(__file__).parent / "metering" / "clickhouse_http_standin.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(port), str(tmp_path_factory.mktemp("chdb-http"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield f"clickhouse://default:@127.0.0.1:{port}/bp_http"
    finally:
        proc.terminate()
        proc.wait(10)
