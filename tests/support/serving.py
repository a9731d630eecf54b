"""A test's own HTTP server on a loopback port, served from a thread for one `with` block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that keeps the test's output free of one access-log line a request."""

    def log_message(self, *args: Any) -> None:
        pass


def loopback_server(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    return ThreadingHTTPServer(("127.0.0.1", 0), handler)


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[str]:
    """Serves `server` until the block ends, yielding its base URL; a short poll, so that
    the shutdown at the end does not wait half a second for the loop to notice."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
