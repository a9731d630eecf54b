"""A loopback HTTP peer in front of the personas API, for the runner's retry path.

It forwards every request it gets and records each exchange; the first requests that
match a rule (a method, and a part of the path) are answered 503 instead, either without
reaching the service (it is "down") or after the service has answered (the answer is
lost on the way back). It is a real server on a real port: the runner's client cannot
tell it from a gateway.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

# Headers that belong to one connection, not to the request the proxy passes on.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "accept-encoding"}
REFUSE = "refuse"  # answer 503, the service never sees the request
LOSE_ANSWER = "lose-answer"  # the service handles it, the caller gets 503


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    body: bytes
    status: int
    reached_service: bool


class FaultyProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.exchanges: list[Exchange] = []
        self._plan: list[str] = []
        self._rule: tuple[str, str] | None = None
        self._status = 503
        self._lock = threading.Lock()
        self._http = requests.Session()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def fail(self, method: str, path_part: str, *plan: str, status: int = 503) -> None:
        """The next requests whose path holds `path_part` get `status` (503: the API away;
        another: the API refusing them), one per entry of `plan` (REFUSE / LOSE_ANSWER)."""
        with self._lock:
            self._rule = (method.upper(), path_part)
            self._plan = list(plan)
            self._status = status

    def matching(self, method: str, path_suffix: str) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.method == method and e.path.endswith(path_suffix)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _next_fault(self, method: str, path: str) -> str | None:
        with self._lock:
            if self._rule and self._plan and method == self._rule[0] and self._rule[1] in path:
                return self._plan.pop(0)
        return None

    def _relay(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        fault = self._next_fault(method, path)
        status, content, content_type = 503, b"", "application/json"
        if fault != REFUSE:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            answer = self._http.request(method, self.target + path, headers=forwarded, data=body, timeout=30)
            status, content = answer.status_code, answer.content
            content_type = answer.headers.get("Content-Type", content_type)
        if fault is not None:
            status, content, content_type = self._status, unavailable_body(fault), "application/json"
        with self._lock:
            self.exchanges.append(Exchange(method, path, body, status, reached_service=fault != REFUSE))
        return status, content, content_type

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, content, content_type = proxy._relay(
                    self.command, self.path, dict(self.headers.items()), body
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = relay

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the exchanges are recorded, not logged."""

        return Handler


def unavailable_body(fault: str) -> bytes:
    message = "injected by the test proxy: " + (
        "the service was not reached" if fault == REFUSE else "the service's answer was lost"
    )
    return json.dumps({"error": "Unavailable", "message": message}).encode()
