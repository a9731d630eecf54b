"""Retries with exponential backoff and jitter, for calls that are safe to repeat.

Only idempotent calls go through here (the keyed posts, the tick's PUT, the release,
the history read): the service deduplicates by key, so a retry after a lost answer
writes nothing twice. A call is retried either a bounded number of times (the policy's
attempts) or, with a deadline, for as long as the deadline allows (a tick's posts, until
its lease would lapse).
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
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(retry, 30))
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
    deadline: Callable[[], float] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`call()`, repeated while it fails retryably: up to `policy.attempts` times or, with
    a `deadline` (a time on `clock`, read anew after every failure since it may move), until
    it has passed; the last wait is cut short so that one attempt is made right at it."""
    rng = rng or random.Random()
    retry = 0
    while True:
        try:
            return call()
        except ExpectedError as exc:
            if not retryable(exc):
                raise
            wait = backoff(exc, retry, policy, rng)
            if deadline is None:
                if retry == policy.attempts - 1:
                    raise
            else:
                left = deadline() - clock()
                if left <= 0:
                    raise
                wait = min(wait, left)
            sleep(wait)
            retry += 1


def backoff(exc: ExpectedError, retry: int, policy: RetryPolicy, rng: random.Random) -> float:
    """The wait before retry `retry` (0-based): the policy's, or longer when the server
    asked for it (`Retry-After`), never past the policy's cap."""
    wait = policy.delay(retry, rng)
    if isinstance(exc, StatusError) and exc.retry_after is not None:
        wait = max(wait, min(exc.retry_after, policy.max_delay))
    return wait
