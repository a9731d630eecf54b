"""A local webhook receiver for the development stack: it checks each alert's signature
with the Standard Webhooks reference library and appends one line per message to its log
(`.local/alerts-received.log`), so a newcomer sees alerts arrive. Development only.

`python -m devstack.alerts_receiver --port 3075 --log .local/alerts-received.log`, with the
webhook's secret in ALERTS_RECEIVER_SECRET.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

BODY_MAX = 1024 * 1024


def describe(raw: bytes, headers: dict[str, str], secret: str) -> tuple[int, str]:
    """The status to answer and the log line for one request."""
    try:
        Webhook(secret).verify(raw, headers)
    except WebhookVerificationError as exc:
        return 401, f"REFUSED (signature: {exc}) webhook-id={headers.get('webhook-id')}"
    message = json.loads(raw)
    data = json.dumps(message.get("data"), sort_keys=True)
    return 204, f"{message.get('type')} webhook-id={headers['webhook-id']} signature ok data={data}"


def handler(secret: str, log: Path) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(200 if self.path == "/health" else 404)

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > BODY_MAX:
                self._answer(413)
                return
            raw = self.rfile.read(length)
            status, line = describe(raw, {k.lower(): v for k, v in self.headers.items()}, secret)
            stamped = f"{datetime.now(UTC).isoformat(timespec='seconds')} {line}"
            with log.open("a") as out:
                out.write(stamped + "\n")
            print(stamped, flush=True)
            self._answer(status)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Receiver


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.alerts_receiver", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3075))
    parser.add_argument("--log", type=Path, default=Path(".local/alerts-received.log"))
    args = parser.parse_args()
    secret = os.environ.get("ALERTS_RECEIVER_SECRET", "")
    if not secret.startswith("whsec_"):
        print("alerts_receiver: set ALERTS_RECEIVER_SECRET to the webhook's whsec_ secret", file=sys.stderr)
        return 2
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(secret, args.log))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
