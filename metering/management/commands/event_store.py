"""`python manage.py event_store [--schema] [--print-schema] [--ship]`: the event store EVENT_STORE_URL names.

Without options: which store, and (ClickHouse) the outbox backlog. `--schema` creates the ClickHouse tables
(idempotent; ON CLUSTER with EVENT_STORE_CLUSTER), `--print-schema` prints the statements, `--ship` ships the
whole outbox now (what the beat task does every EVENT_STORE_SHIP_SECONDS).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from metering import clickhouse, event_store
from metering.event_outbox import events_ship_all, outbox_backlog


class Command(BaseCommand):
    help = "Show the event store, create its ClickHouse schema, or ship the outbox now."

    def add_arguments(self, parser):
        parser.add_argument("--schema", action="store_true", help="create the ClickHouse tables (idempotent)")
        parser.add_argument("--print-schema", action="store_true", help="print the ClickHouse DDL")
        parser.add_argument("--ship", action="store_true", help="ship the whole outbox to ClickHouse now")

    def handle(self, *args, **options):
        store = event_store.current()
        if options["print_schema"]:
            database = getattr(store, "db", "billing_portal")
            for statement in clickhouse.schema_statements(database, settings.EVENT_STORE_CLUSTER):
                self.stdout.write(statement + ";\n")
            return
        if not store.uses_outbox:
            if options["schema"] or options["ship"]:
                raise CommandError("EVENT_STORE_URL is PostgreSQL: there is no ClickHouse schema or outbox.")
            self.stdout.write("Event store: PostgreSQL (EVENT_STORE_URL unset or postgres).")
            return
        if options["schema"]:
            store.ensure_schema(create_on_cluster=True)
            self.stdout.write(f"ClickHouse schema ready in database {store.db}.")
        if options["ship"]:
            shipped = events_ship_all()
            self.stdout.write(
                f"Shipped {shipped['rows']:,} outbox rows: {shipped['events']:,} events, "
                f"{shipped['readings']:,} meter readings."
            )
        backlog = outbox_backlog()
        self.stdout.write(
            f"Event store: ClickHouse (database {store.db}); outbox: {backlog['rows']:,} rows, "
            f"{backlog['events']:,} events waiting"
            + (f", oldest from {backlog['oldest']:%Y-%m-%d %H:%M:%S} UTC" if backlog["oldest"] else "")
        )
