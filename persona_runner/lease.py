"""A claimed persona's lease as this runner sees it: when it ends as last extended, and
so until when the tick's posts may still be retried."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LeaseClock:
    """When the lease ends as last extended, on this process's monotonic clock. Each
    extension counts from the moment its request was sent, never from the server's
    answer, so the estimate errs early: the runner's clock and the server's may differ,
    this runner's notion of "before" may not."""

    def __init__(self, started: float, seconds: float) -> None:
        self.seconds = seconds
        self.end = started + seconds

    def extended(self, sent_at: float) -> None:
        self.end = max(self.end, sent_at + self.seconds)


class Stopping(threading.Event):
    """The runner's "stop the running ticks now", remembering when it was given."""

    at: float | None = None

    def set(self) -> None:
        self.at = time.monotonic()
        super().set()


def post_deadline(lease: LeaseClock, stop: threading.Event | None, grace: float) -> Callable[[], float]:
    """Until when a tick's posts are retried: the lease's end; once the runner is
    stopping its ticks (SIGTERM and the grace over), `grace` more at most, so a shutdown
    never waits out a lease."""

    def deadline() -> float:
        stopped_at = getattr(stop, "at", None)
        return lease.end if stopped_at is None else min(lease.end, stopped_at + grace)

    return deadline
