"""Model errors and odd answers on purpose: the next `times` calls answer `status` (429,
500 or 529; with `retryAfter`, that many seconds in a `retry-after` header); or the next
`times` ratings answers break the ratings schema (`badRatings`), or come back as text
without the `submit_ratings` call (`noToolCall`), on either face; or the next `times`
calls stall `delayMs` before answering (a model slower than a tick); or the next `times`
answers end with `stopReason` (`refusal`, `max_tokens`,
`model_context_window_exceeded`) instead of their own. On the Chat Completions face, the
next `times` answers with tool calls carry arguments that are not JSON
(`malformedArguments`), or carry no `usage` (`noUsage`); and until cleared it refuses a
named `tool_choice` as servers without it do (`namedToolChoice: false`).
They live in the one gunicorn worker's memory, which is why devllm runs one worker."""

from __future__ import annotations

import threading
import time

from flask import request

from devllm.errors import ModelApiError

STATUSES = (429, 500, 529)
# The switches that change the next `times` answers of a kind, each counted down.
ONCE_SWITCHES = ("badRatings", "malformedArguments", "noToolCall", "noUsage")
STOP_REASONS = ("refusal", "max_tokens", "model_context_window_exceeded")
MESSAGES = {
    429: "Number of requests has exceeded your rate limit (injected by devllm /dev/faults).",
    500: "Internal server error (injected by devllm /dev/faults).",
    529: "Overloaded (injected by devllm /dev/faults).",
}
# The API always tells a rate-limited client when to come back; a fault without
# `retryAfter` says one second (the SDK then waits that long before its retry).
RATE_LIMIT_RETRY_AFTER = 1


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: list[tuple[int, int | None]] = []
        self._once = dict.fromkeys(ONCE_SWITCHES, 0)
        self._delays: list[int] = []
        self._stop_reasons: list[str] = []
        self.named_choice = True

    def add(self, status: int, times: int, retry_after: int | None = None) -> None:
        if retry_after is None and status == 429:
            retry_after = RATE_LIMIT_RETRY_AFTER
        with self._lock:
            self._errors.extend([(status, retry_after)] * times)

    def add_once(self, switch: str, times: int) -> None:
        with self._lock:
            self._once[switch] += times

    def add_delay(self, delay_ms: int, times: int) -> None:
        with self._lock:
            self._delays.extend([delay_ms] * times)

    def add_stop_reason(self, stop_reason: str, times: int) -> None:
        with self._lock:
            self._stop_reasons.extend([stop_reason] * times)

    def clear(self) -> None:
        with self._lock:
            self._errors.clear()
            self._once = dict.fromkeys(ONCE_SWITCHES, 0)
            self._delays.clear()
            self._stop_reasons.clear()
            self.named_choice = True

    def take_delay(self) -> int:
        with self._lock:
            return self._delays.pop(0) if self._delays else 0

    def take_once(self, switch: str) -> bool:
        """Whether this answer is to be changed as `switch` says (uses one of `times`)."""
        with self._lock:
            if not self._once[switch]:
                return False
            self._once[switch] -= 1
            return True

    def take_bad_ratings(self) -> bool:
        return self.take_once("badRatings")

    def take_stop_reason(self) -> str | None:
        with self._lock:
            return self._stop_reasons.pop(0) if self._stop_reasons else None

    def take(self) -> tuple[int, int | None] | None:
        with self._lock:
            return self._errors.pop(0) if self._errors else None


def raise_injected(faults: Faults) -> None:
    """Before a model call (either face): stall as long as the next injected delay says, then
    answer the next injected error, if one is waiting."""
    if request.path.startswith("/dev/") or request.path == "/health":
        return
    delay_ms = faults.take_delay()
    if delay_ms:
        time.sleep(delay_ms / 1000)
    error = faults.take()
    if error is not None:
        status, retry_after = error
        raise ModelApiError(status, MESSAGES[status], retry_after)
