"""The gunicorn worker of the `web` process (`--worker-class web_worker.WebWorker`).

gevent's worker: a connection costs a greenlet, not a thread, so sockets that sit idle
or trickle their request cannot take the service from everyone else (gunicorn's threaded
worker gives each of them a thread as soon as one byte arrives). The service itself stays
synchronous: gevent patches the standard library in each worker before the app is
imported, so psycopg and its pool, requests and the locks all wait cooperatively.

A slow client is still dropped. Its request line and headers must arrive within
`--keep-alive` seconds (gevent's worker times that read out), its body within `--timeout`
seconds after them, and the socket may never stay silent for more than
CLIENT_IDLE_TIMEOUT seconds while we read from it or write our answer.

This module is imported by the gunicorn master: it must not import the service, psycopg
in particular, which picks its way of waiting when first imported and has to be
imported after gevent has patched the worker.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import gevent
from gunicorn.http import errors
from gunicorn.util import write_nonblock
from gunicorn.workers.base_async import AsyncWorker
from gunicorn.workers.ggevent import GeventWorker

CLIENT_IDLE_TIMEOUT = 10.0

# The requests gunicorn refuses before the app sees them, with the status it answers;
# they are answered in the contract's JSON shape, as the app answers its own errors.
# Anything else gunicorn answers by itself stays as gunicorn writes it (README).
REFUSALS: tuple[tuple[type[Exception], int, str, str], ...] = (
    (errors.LimitRequestLine, 414, "URI Too Long", "URITooLong"),
    (errors.LimitRequestHeaders, 431, "Request Header Fields Too Large", "RequestHeaderFieldsTooLarge"),
    (errors.UnsupportedTransferCoding, 501, "Not Implemented", "NotImplemented"),
    (
        (
            errors.InvalidRequestLine,
            errors.InvalidRequestMethod,
            errors.InvalidHTTPVersion,
            errors.InvalidHeader,
            errors.InvalidHeaderName,
            errors.ObsoleteFolding,
            errors.InvalidSchemeHeaders,
            errors.InvalidChunkSize,
            errors.ChunkMissingTerminator,
            errors.InvalidChunkExtension,
        ),
        400,
        "Bad Request",
        "BadRequest",
    ),
)


def refusal(exc: BaseException) -> tuple[int, str, str] | None:
    """(status, reason, error kind) for a request gunicorn refuses, else None."""
    for classes, status, reason, kind in REFUSALS:
        if isinstance(exc, classes):
            return status, reason, kind
    return None


def json_refusal(status: int, reason: str, kind: str, message: str) -> bytes:
    body = json.dumps({"error": kind, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class DeadlineBody:
    """A request body that must have arrived by a deadline (gunicorn's Body underneath).

    Past the deadline a read raises NoMoreData: to werkzeug and to gunicorn a client too
    slow to send its body is one that went away (werkzeug answers 400, gunicorn closes).
    """

    def __init__(self, body: Any, seconds: float) -> None:
        self.body = body
        self.deadline = time.monotonic() + seconds

    def _within_deadline(self, read: Any, *args: Any) -> Any:
        remaining = self.deadline - time.monotonic()
        expired = errors.NoMoreData(b"")
        if remaining <= 0:
            raise expired
        with gevent.Timeout(remaining, expired):
            return read(*args)

    def read(self, size: int | None = None) -> bytes:
        return self._within_deadline(self.body.read, size)

    def readline(self, size: int | None = None) -> bytes:
        return self._within_deadline(self.body.readline, size)

    def readlines(self, size: int | None = None) -> list[bytes]:
        return self._within_deadline(self.body.readlines, size)

    def __iter__(self) -> DeadlineBody:
        return self

    def __next__(self) -> bytes:
        return self._within_deadline(next, self.body)


class WebWorker(GeventWorker):
    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        # gevent's worker makes the socket blocking for good; ours gives up on silence.
        client.settimeout(CLIENT_IDLE_TIMEOUT)
        AsyncWorker.handle(self, listener, client, addr)

    def handle_request(self, listener_name: Any, req: Any, sock: socket.socket, addr: Any) -> None:
        if self.cfg.timeout and req.body is not None:
            req.body = DeadlineBody(req.body, self.cfg.timeout)
        super().handle_request(listener_name, req, sock, addr)

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        refused = refusal(exc)
        if refused is None:
            super().handle_error(req, client, addr, exc)
            return
        status, reason, kind = refused
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            write_nonblock(client, json_refusal(status, reason, kind, f"{reason}: {exc}"))
        except OSError:
            self.log.debug("Failed to send error message.")
