"""Clients that hold sockets open against a server without finishing a request: idle
ones, ones trickling their headers a byte at a time, and ones trickling a body. Used by
the slow-client test and benchmark to check that the web process keeps answering.

One background thread keeps every socket going: each round it sends the next byte on the
trickling ones, and a socket the server closed (or answered) is counted and opened again,
as an attacker would, so the load stays at the number asked for.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class SlowSocket:
    kind: str  # "idle", "headers" or "body"
    sock: socket.socket
    opened_at: float = field(default_factory=time.monotonic)


@dataclass
class SlowStats:
    opened: int = 0
    dropped: int = 0
    # Seconds from opening to the server's drop, per kind: how long a slow client lasts.
    lifetimes: dict[str, list[float]] = field(default_factory=dict)


class SlowClients:
    """`idle` + `slow_headers` + `slow_bodies` sockets against host:port, kept open and
    trickling one byte per socket every `interval` seconds until `stop()`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        idle: int = 0,
        slow_headers: int = 0,
        slow_bodies: int = 0,
        body_path: str = "/",
        body_headers: dict[str, str] | None = None,
        interval: float = 1.0,
        reopen: bool = True,
    ) -> None:
        self.address = (host, port)
        self.counts = {"idle": idle, "headers": slow_headers, "body": slow_bodies}
        self.body_path = body_path
        self.body_headers = body_headers or {}
        self.interval = interval
        self.reopen = reopen
        self.stats = SlowStats()
        self.sockets: list[SlowSocket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def __enter__(self) -> SlowClients:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        for kind, count in self.counts.items():
            for _ in range(count):
                self.sockets.append(self._open(kind))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for slow in self.sockets:
            slow.sock.close()

    def open_count(self) -> int:
        return sum(1 for slow in self.sockets if slow.sock.fileno() != -1)

    def _open(self, kind: str) -> SlowSocket:
        sock = socket.create_connection(self.address, timeout=5)
        sock.setblocking(False)
        self.stats.opened += 1
        slow = SlowSocket(kind, sock)
        self._send(slow, self._preamble(kind))
        return slow

    def _preamble(self, kind: str) -> bytes:
        host = f"Host: {self.address[0]}:{self.address[1]}\r\n"
        if kind == "headers":
            # The request line and one header; the next header never ends.
            return f"GET /health HTTP/1.1\r\n{host}X-Slow: ".encode()
        if kind == "body":
            extra = "".join(f"{name}: {value}\r\n" for name, value in self.body_headers.items())
            return (
                f"POST {self.body_path} HTTP/1.1\r\n{host}{extra}"
                "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n["
            ).encode()
        return b""

    @staticmethod
    def _send(slow: SlowSocket, data: bytes) -> bool:
        if not data:
            return True
        try:
            return slow.sock.send(data) == len(data)
        except OSError:
            return False

    @staticmethod
    def _closed_by_server(slow: SlowSocket) -> bool:
        """True once the server has closed the socket or answered (which ends it too)."""
        try:
            slow.sock.recv(1, socket.MSG_PEEK)  # b"" (closed) or the start of an answer
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for index, slow in enumerate(self.sockets):
                if self._stop.is_set():
                    return
                if slow.sock.fileno() == -1:
                    self._reopen(index, slow.kind)
                    continue
                trickle = b"a" if slow.kind == "headers" else b" " if slow.kind == "body" else b""
                if self._closed_by_server(slow) or not self._send(slow, trickle):
                    self._drop(index, slow)

    def _drop(self, index: int, slow: SlowSocket) -> None:
        slow.sock.close()
        self.stats.dropped += 1
        self.stats.lifetimes.setdefault(slow.kind, []).append(time.monotonic() - slow.opened_at)
        self._reopen(index, slow.kind)

    def _reopen(self, index: int, kind: str) -> None:
        if not self.reopen:
            return
        with contextlib.suppress(OSError):  # the listen queue is full: try again next round
            self.sockets[index] = self._open(kind)
