"""The ClickHouse side of the event store: one tiny connection adapter and the schema.

Two transports run the same SQL text with the same server-side parameters (`{name:Type}`, scalars only) and read
the same output format (JSONCompactEachRow):
- `clickhouse://user:password@host:8123/database` (`clickhouses://…:8443/…` for TLS): a ClickHouse server or
  cluster through `clickhouse-connect` (production);
- `chdb:///absolute/path?database=name` (or `chdb://` for a temporary directory): ClickHouse's engine in this
  process (PyPI `chdb`), for tests, CI and `make bench`. One process at a time may open a chdb directory.

Inserts send the columns as one JSONColumns block ({"column": [values…]}), in one request per batch.
"""

from __future__ import annotations

import re
import tempfile
import threading
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
OUTPUT_FORMAT = "JSONCompactEachRow"
# Counts come back as JSON numbers, not strings (ClickHouse quotes 64-bit integers by default).
QUERY_SETTINGS = {"output_format_json_quote_64bit_integers": 0}


class ClickHouseError(Exception):
    """ClickHouse refused or could not be reached; the message is ClickHouse's (or the transport's)."""


def _rows(data: bytes) -> list[list]:
    return [orjson.loads(line) for line in data.splitlines() if line]


def _escaped(value: str) -> str:
    """A string parameter in ClickHouse's escaped text form (what the HTTP interface's param_… values are)."""
    return (
        value.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\0", "\\0")
    )


class ChdbConnection:
    """ClickHouse in-process (chdb). chdb allows one session per process, so sessions are shared per path."""

    _sessions: dict[str, object] = {}
    _lock = threading.Lock()

    def __init__(self, path: str, database: str):
        self.path = path
        self.database = database

    def _session(self):
        with self._lock:
            session = self._sessions.get(self.path)
            if session is None:
                from chdb import session as chdb_session

                session = self._sessions[self.path] = chdb_session.Session(self.path)
            return session

    @staticmethod
    def _params(params: dict | None) -> dict | None:
        if not params:
            return None
        return {k: _escaped(v) if isinstance(v, str) else str(v) for k, v in params.items()}

    def _run(self, sql: str, params: dict | None, fmt: str):
        session = self._session()
        try:
            with self._lock:  # one statement at a time per session (gthread workers, test threads)
                return session.query(sql, fmt, params=self._params(params))
        except Exception as exc:  # chdb raises its own error types (ChdbError, RuntimeError)
            raise ClickHouseError(str(exc)) from exc

    def query(self, sql: str, params: dict | None = None) -> list[list]:
        settings = ", ".join(f"{k} = {v}" for k, v in QUERY_SETTINGS.items())
        return _rows(self._run(f"{sql} SETTINGS {settings}", params, OUTPUT_FORMAT).bytes())

    def command(self, sql: str, params: dict | None = None) -> None:
        self._run(sql, params, "CSV")

    def insert(self, table: str, columns: dict[str, list]) -> None:
        names = ", ".join(columns)
        self._run(
            f"INSERT INTO {self.database}.{table} ({names}) FORMAT JSONColumns\n"
            + orjson.dumps(columns).decode(),
            None,
            "CSV",
        )


class ServerConnection:
    """A ClickHouse server (or a cluster's load balancer) through clickhouse-connect's HTTP client."""

    def __init__(self, *, host, port, username, password, database, secure):
        self.database = (
            database  # named in every statement: the client's own database stays the server's default
        )
        self._args = {
            "host": host,
            "port": port,
            "username": username,
            "password": password,
            "secure": secure,
        }
        self._local = threading.local()  # clickhouse-connect clients are not shared between threads

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            import clickhouse_connect

            client = self._local.client = clickhouse_connect.get_client(
                **self._args,
                settings=QUERY_SETTINGS,
                autogenerate_session_id=False,
                compress=False,
                connect_timeout=5,
                send_receive_timeout=60,
            )
        return client

    def query(self, sql: str, params: dict | None = None) -> list[list]:
        try:
            return _rows(self._client().raw_query(sql, parameters=params or None, fmt=OUTPUT_FORMAT))
        except Exception as exc:  # clickhouse-connect's DatabaseError, OperationalError, …
            raise ClickHouseError(str(exc)) from exc

    def command(self, sql: str, params: dict | None = None) -> None:
        try:
            self._client().command(sql, parameters=params or None)
        except Exception as exc:
            raise ClickHouseError(str(exc)) from exc

    def insert(self, table: str, columns: dict[str, list]) -> None:
        try:
            self._client().raw_insert(
                f"{self.database}.{table}", list(columns), orjson.dumps(columns), fmt="JSONColumns"
            )
        except Exception as exc:
            raise ClickHouseError(str(exc)) from exc


def connect(url: str):
    """The connection an EVENT_STORE_URL names (nothing is opened until the first statement)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "chdb":
        database = query.get("database", ["billing_portal"])[0]
        path = unquote(parts.path) or tempfile.mkdtemp(prefix="chdb-")
    elif parts.scheme in ("clickhouse", "clickhouses"):
        database = unquote(parts.path.lstrip("/")) or "default"
    else:
        raise ValueError(
            f"EVENT_STORE_URL: unknown scheme {parts.scheme!r} (postgres, clickhouse, clickhouses, chdb)"
        )
    if not IDENTIFIER.match(database):
        raise ValueError(f"EVENT_STORE_URL: bad database name {database!r}")
    if parts.scheme == "chdb":
        return ChdbConnection(path, database)
    secure = parts.scheme == "clickhouses"
    return ServerConnection(
        host=parts.hostname or "localhost",
        port=parts.port or (8443 if secure else 8123),
        username=unquote(parts.username or "default"),
        password=unquote(parts.password or ""),
        database=database,
        secure=secure,
    )


# --- schema --------------------------------------------------------------------------------------------------

# auth_events: one row per accepted event; duplicates collapse by (tenant_id, event_id) — ReplacingMergeTree
# keeps the row with the highest `priority`, i.e. the first accepted copy (priority = 2^63 - outbox row id), and
# every read uses FINAL, so counts are exact before and after background merges. `month` and `day` are the
# calendar month (first day) and day of `occurred_at` in the tenant's time zone, computed when shipped.
# meter_readings: the latest value of each (tenant, unit, channel, timestamp) reading as PostgreSQL holds it
# (version = outbox row id, written under the reading's row lock); a deletion is a row with is_deleted = 1.
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS {db}.auth_events{on_cluster} (
        tenant_id UInt64,
        event_id String,
        rp_id String,
        user_id String,
        occurred_at DateTime64(6, 'UTC'),
        month Date,
        day Date,
        priority UInt64
    ) ENGINE = {engine}ReplacingMergeTree(priority)
    ORDER BY (tenant_id, event_id)""",
    """CREATE TABLE IF NOT EXISTS {db}.meter_readings{on_cluster} (
        tenant_id UInt64,
        unit_id UInt64,
        rp_id String,
        timestamp DateTime64(6, 'UTC'),
        count Int64,
        version UInt64,
        is_deleted UInt8
    ) ENGINE = {engine}ReplacingMergeTree(version, is_deleted)
    ORDER BY (tenant_id, unit_id, rp_id, timestamp)""",
]
TABLES = ("auth_events", "meter_readings")


def schema_statements(database: str, cluster: str = "") -> list[str]:
    """CREATE statements; with a cluster name, ON CLUSTER and Replicated… engines (default replication path)."""
    if cluster and not IDENTIFIER.match(cluster):
        raise ValueError(f"EVENT_STORE_CLUSTER: bad cluster name {cluster!r}")
    on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
    statements = [f"CREATE DATABASE IF NOT EXISTS {database}{on_cluster}"]
    statements += [
        s.format(db=database, on_cluster=on_cluster, engine="Replicated" if cluster else "") for s in SCHEMA
    ]
    return statements
