"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that verifies every request with the published
Standard Webhooks library (PyPI `standardwebhooks`), as an operator's receiver would."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


class Receiver:
    def __init__(self):
        self.secret = None  # set once the endpoint exists
        self.requests = []  # dicts: message_id, attempt_id, verified, payload, error
        self.status = 200  # what to answer
        self.hold = None  # a threading.Event: when set, requests wait for it before answering
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                record = {
                    "message_id": self.headers.get("webhook-id"),
                    "attempt_id": self.headers.get("webhook-attempt-id"),
                    "verified": False,
                }
                try:
                    record["payload"] = Webhook(receiver.secret).verify(body, dict(self.headers))
                    record["verified"] = True
                except (WebhookVerificationError, ValueError, TypeError) as exc:
                    record["error"] = str(exc)
                receiver.requests.append(record)
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                status = receiver.status if record["verified"] else 401
                answer = json.dumps({"verified": record["verified"]}).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender died

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/billing"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def verified(self, type_=None):
        return [
            r for r in self.requests if r["verified"] and (type_ is None or r["payload"]["type"] == type_)
        ]

    def close(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
