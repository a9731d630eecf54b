"""Model errors on purpose: the next `times` calls answer `status` (429, 500 or 529).
They live in the one gunicorn worker's memory, which is why devllm runs one worker."""

from __future__ import annotations

import threading

from flask import request

from devllm.errors import ApiError

STATUSES = (429, 500, 529)
MESSAGES = {
    429: "Number of requests has exceeded your rate limit (injected by devllm /dev/faults).",
    500: "Internal server error (injected by devllm /dev/faults).",
    529: "Overloaded (injected by devllm /dev/faults).",
}


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[int] = []

    def add(self, status: int, times: int) -> None:
        with self._lock:
            self._queue.extend([status] * times)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def take(self) -> int | None:
        with self._lock:
            return self._queue.pop(0) if self._queue else None


def raise_injected(faults: Faults) -> None:
    """Before a Messages call: answer the next injected error, if one is waiting."""
    if request.path.startswith("/dev/") or request.path == "/health":
        return
    status = faults.take()
    if status is not None:
        raise ApiError(status, MESSAGES[status])
