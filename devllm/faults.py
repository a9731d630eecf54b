"""Model errors on purpose: the next `times` calls answer `status` (429, 500 or 529);
or the next `times` forced `submit_ratings` answers break the ratings schema (`badRatings`);
or the next `times` calls stall `delayMs` before answering (a model slower than a tick).
They live in the one gunicorn worker's memory, which is why devllm runs one worker."""

from __future__ import annotations

import threading
import time

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
        self._bad_ratings = 0
        self._delays: list[int] = []

    def add(self, status: int, times: int) -> None:
        with self._lock:
            self._queue.extend([status] * times)

    def add_bad_ratings(self, times: int) -> None:
        with self._lock:
            self._bad_ratings += times

    def add_delay(self, delay_ms: int, times: int) -> None:
        with self._lock:
            self._delays.extend([delay_ms] * times)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._bad_ratings = 0
            self._delays.clear()

    def take_delay(self) -> int:
        with self._lock:
            return self._delays.pop(0) if self._delays else 0

    def take_bad_ratings(self) -> bool:
        """Whether this ratings answer is to break the schema (uses one of `times`)."""
        with self._lock:
            if not self._bad_ratings:
                return False
            self._bad_ratings -= 1
            return True

    def take(self) -> int | None:
        with self._lock:
            return self._queue.pop(0) if self._queue else None


def raise_injected(faults: Faults) -> None:
    """Before a Messages call: stall as long as the next injected delay says, then
    answer the next injected error, if one is waiting."""
    if request.path.startswith("/dev/") or request.path == "/health":
        return
    delay_ms = faults.take_delay()
    if delay_ms:
        time.sleep(delay_ms / 1000)
    status = faults.take()
    if status is not None:
        raise ApiError(status, MESSAGES[status])
