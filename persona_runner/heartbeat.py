"""Keeps a claimed persona's lease alive while its tick runs: a heartbeat about every
third of the lease, so the lease only lapses when its runner has stopped."""

from __future__ import annotations

import logging
import random
import threading
import time
from types import TracebackType

from apibase.client_errors import ExpectedError, StatusError
from persona_runner.config import RunnerConfig
from persona_runner.internal_client import InternalClient
from persona_runner.lease import LeaseClock
from persona_runner.retry import RetryPolicy

log = logging.getLogger("persona_runner.heartbeat")


class Heartbeat:
    """`with Heartbeat(...):` beats in a thread until the block ends (or `stop()`). A lease
    that is gone (404) or another runner's (409) stops the beating and is kept in `lost`,
    which stops the tick (`tick.Guard`). While the API is away, beats are tried again
    with the retry backoff (at most a third of the lease apart), so the lease is kept
    the moment the API is back; every beat that lands moves `clock`."""

    def __init__(self, config: RunnerConfig, persona_id: str, clock: LeaseClock) -> None:
        # Its own client: a requests.Session is not to be shared between threads.
        self.internal = InternalClient(config)
        self.persona_id = persona_id
        self.runner_id = config.runner_id
        self.lease_seconds = config.lease_seconds
        self.clock = clock
        self.backoff = RetryPolicy(max_delay=min(config.retry_max_delay, config.lease_seconds / 3))
        self.lost: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{persona_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self.internal.close()

    def stop(self) -> None:
        """No more beats (the ratings ended the lease, or the tick is over)."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        rng, failures = random.Random(), 0
        wait = self.lease_seconds / 3
        while not self._done.wait(wait):
            if self._beat():
                failures, wait = 0, self.lease_seconds / 3
            elif self.lost:
                return
            else:
                wait = self.backoff.delay(failures, rng)
                failures += 1

    def _beat(self) -> bool:
        sent_at = time.monotonic()
        try:
            self.internal.heartbeat(self.persona_id, self.runner_id, self.lease_seconds)
        except StatusError as exc:
            if exc.status in (404, 409):
                self.lost = exc.detail
                log.warning("lease of %s lost: %s", self.persona_id, exc.detail)
            else:
                log.warning("heartbeat for %s failed: %s", self.persona_id, exc.detail)
            return False
        except ExpectedError as exc:  # the API is away: the next beat may reach it
            log.warning("heartbeat for %s failed: %s", self.persona_id, exc)
            return False
        self.clock.extended(sent_at)
        return True
