"""Faults on purpose and the log of served calls; both live in the one devmcp process.

An error rate is applied deterministically: each matching call adds the rate to a
running sum and fails when the sum reaches 1 (rate 0.5 fails every second call), so a
test knows exactly which calls fail.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

MAX_LOGGED_CALLS = 100_000


@dataclass
class Fault:
    tool: str
    error_rate: float = 1.0
    delay_ms: int = 0
    times: int | None = None
    _sum: float = field(default=0.0, repr=False)

    def matches(self, tool: str) -> bool:
        if self.tool.endswith("*"):
            return tool.startswith(self.tool[:-1])
        return tool == self.tool


@dataclass(frozen=True)
class Verdict:
    """What a faulted call does: stall `delay_ms`, then fail if `fail`."""

    delay_ms: int
    fail: bool


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, tool: str) -> Verdict | None:
        """The first matching fault's verdict for this call; a call it applies to uses one of `times`."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(tool):
                    continue
                fault._sum += fault.error_rate
                fail = fault._sum >= 1 - 1e-9
                if fail:
                    fault._sum -= 1
                if not fail and not fault.delay_ms:
                    return None
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return Verdict(delay_ms=fault.delay_ms, fail=fail)
        return None


@dataclass(frozen=True)
class Call:
    at: datetime
    user_id: str
    space_id: str
    tool: str
    is_error: bool
    # The caller's W3C trace context, so a test (or a person) can find the call's trace.
    traceparent: str | None = None

    def as_json(self) -> dict:
        call = {
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "userId": self.user_id,
            "spaceId": self.space_id,
            "tool": self.tool,
            "isError": self.is_error,
        }
        return {**call, "traceparent": self.traceparent} if self.traceparent else call


class CallLog:
    """Every tool call served, oldest first (the newest MAX_LOGGED_CALLS of them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: deque[Call] = deque(maxlen=MAX_LOGGED_CALLS)

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def since(self, since: datetime | None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if since is None or c.at >= since]
