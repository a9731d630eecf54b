"""An HTTP server whose idle close always wins the race with the next request.

A real server closes a keep-alive connection once it has been idle for its keep-alive;
a request that the client sends on it at that very moment is lost (the client reads a
closed connection, although the server is up). That moment is hard to hit on purpose, so
this server makes it certain: a request that arrives on a connection idle for at least
`keepalive` seconds is not answered, and the connection is closed, exactly as if the
server's close had crossed the request on the wire. Every other request is answered with
`answer` as JSON, keeping the connection open.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.serving import QuietHandler, serving


class RacingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, keepalive: float, answer: Any) -> None:
        self.keepalive = keepalive
        self.answer = json.dumps(answer).encode()
        self.connections = 0
        self.answered: list[str] = []
        self.lost: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    server: RacingServer

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1
        self.idle_since: float | None = None

    def handle_any(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.idle_since is not None and time.monotonic() - self.idle_since >= self.server.keepalive:
            self.server.lost.append(self.path)
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)
        self.wfile.flush()
        self.server.answered.append(self.path)
        self.idle_since = time.monotonic()

    do_GET = do_POST = do_PUT = handle_any


@contextmanager
def racing_server(keepalive: float, answer: Any) -> Iterator[RacingServer]:
    server = RacingServer(keepalive, answer)
    with serving(server):
        yield server
