"""Retries with exponential backoff and jitter, for calls that are safe to repeat.

Only the idempotent posts (actions, feedback) go through here: the service
deduplicates them by key, so a retry after a lost answer writes nothing twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from apibase.client_errors import ExpectedError, NetworkError, StatusError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Before retry n (0-based): half of base*2^n fixed, half random, capped.

        The random half spreads a fleet of runners that failed together; the fixed
        half guarantees the wait really grows.
        """
        ceiling = min(self.max_delay, self.base_delay * 2**retry)
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def retryable(exc: ExpectedError) -> bool:
    """Network errors, 429 and 5xx may pass; a 4xx will fail the same way again."""
    if isinstance(exc, NetworkError):
        return True
    return isinstance(exc, StatusError) and (exc.status == 429 or exc.status >= 500)


def with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """`call()`, repeated up to `policy.attempts` times while it fails retryably."""
    rng = rng or random.Random()
    for retry in range(policy.attempts):
        try:
            return call()
        except ExpectedError as exc:
            if not retryable(exc) or retry == policy.attempts - 1:
                raise
            wait = policy.delay(retry, rng)
            if isinstance(exc, StatusError) and exc.retry_after is not None:
                wait = max(wait, min(exc.retry_after, policy.max_delay))
            sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")
