"""A webhook receiver for tests: a real HTTP server on a loopback port that verifies every
request's signature with the Standard Webhooks reference library, records it, and answers
as told (a status, a Retry-After, or a stall past the sender's timeout)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.serving import QuietHandler, loopback_server, serving


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one request: `status`, after `stall` seconds, with `headers`."""

    status: int = 200
    stall: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: dict[str, Any]
    verified: bool
    at: float


class Receiver:
    """Answers the next requests from `answers` in order, then 200; records each one."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.answers: list[Answer] = []
        self.received: list[Received] = []
        # Messages that arrived while the same webhook-id was still being answered.
        self.overlapping: set[str] = set()
        self._flying: dict[str, int] = {}
        self._lock = threading.Lock()
        self.url = ""

    def expect(self, secret: str | None, *answers: Answer) -> None:
        with self._lock:
            self.secret = secret
            self.answers = list(answers)
            self.received = []
            self.overlapping = set()

    def _verify(self, raw: bytes, headers: dict[str, str]) -> bool:
        try:
            Webhook(self.secret or "whsec_AAAA").verify(raw, headers)
        except WebhookVerificationError:
            return False
        return True

    def handle(self, raw: bytes, headers: dict[str, str]) -> Answer:
        webhook_id = headers.get("webhook-id", "")
        with self._lock:
            answer = self.answers.pop(0) if self.answers else Answer()
            if self._flying.get(webhook_id):
                self.overlapping.add(webhook_id)
            self._flying[webhook_id] = self._flying.get(webhook_id, 0) + 1
            self.received.append(
                Received(
                    webhook_id, headers, json.loads(raw or b"null"), self._verify(raw, headers), time.time()
                )
            )
        try:
            time.sleep(answer.stall)  # a stall the sender must give up on, not a wait for a condition
        finally:
            with self._lock:
                self._flying[webhook_id] -= 1
        return answer

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        """The first `count` requests, once they have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise TimeoutError(f"the receiver got {len(self.received)} requests, not {count}")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            answer = receiver.handle(raw, {k.lower(): v for k, v in self.headers.items()})
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up on a stalled answer

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with serving(loopback_server(_handler(receiver))) as url:
        receiver.url = f"{url}/hook"
        yield receiver
