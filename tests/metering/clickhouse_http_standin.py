"""A stand-in for a ClickHouse server's HTTP interface, for testing the clickhouse-connect transport of the event
store (metering/clickhouse.py, ServerConnection): ClickHouse's engine in this process (chdb) answers the requests
clickhouse-connect sends — the query in the URL or the body, insert data in the body, `param_…` values (bound by
the engine, as a server does), the output format, errors as HTTP 500. It is not a ClickHouse server (no users,
sessions, compression or progress headers); Debian's clickhouse-server is far too old for this SQL.

    python tests/metering/clickhouse_http_standin.py PORT DATA_DIR    # listens on 127.0.0.1 only
"""

import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb import session as chdb_session

FORMAT = re.compile(r"\sFORMAT\s+(\w+)\s*$", re.IGNORECASE)
# URL settings applied to the statement as a server would (the others are transport details here).
SETTINGS = {"output_format_json_quote_64bit_integers", "date_time_input_format"}


class Handler(BaseHTTPRequestHandler):
    session = None
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._handle(b"")

    def do_POST(self):
        self._handle(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _handle(self, body: bytes):
        parts = urlsplit(self.path)
        if parts.path == "/ping":
            return self._reply(200, b"Ok.\n")
        args = dict(parse_qsl(parts.query, keep_blank_values=True))
        query = args.get("query")
        data = b""
        if query is None:
            query = body.decode()
        else:
            data = body
        head, _, rest = query.partition("\n")
        fmt = args.get("default_format", "TabSeparated")
        settings = ", ".join(f"{k} = '{v}'" for k, v in args.items() if k in SETTINGS)
        match = FORMAT.search(query) if not data else None
        if match:  # a query: SETTINGS go before its FORMAT
            fmt = match.group(1)
            query = query[: match.start()]
            if settings:
                query += f" SETTINGS {settings}"
        elif data:  # an insert: "INSERT INTO t (…) FORMAT X" + the data block
            insert = FORMAT.search(query)
            if settings and insert:
                query = f"{query[: insert.start()]} SETTINGS {settings} FORMAT {insert.group(1)}"
            query = query + "\n" + data.decode()
        params = {k[len("param_") :]: v for k, v in args.items() if k.startswith("param_")}
        try:
            with self.lock:
                result = self.session.query(query, fmt, params=params or None)
            self._reply(200, result.bytes() if result is not None else b"", fmt)
        except Exception as exc:  # the engine's error, as ClickHouse's HTTP interface reports it
            self._reply(500, f"Code: 1000. DB::Exception: {exc}".encode())

    def _reply(self, code: int, payload: bytes, fmt: str | None = None):
        self.send_response(code)
        if fmt:
            self.send_header("X-ClickHouse-Format", fmt)
        self.send_header("X-ClickHouse-Timezone", "UTC")
        if code != 200:
            self.send_header("X-ClickHouse-Exception-Code", "1000")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    Handler.session = chdb_session.Session(path)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
