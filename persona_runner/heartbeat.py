"""Keeps a claimed persona's lease alive while its tick runs: a heartbeat about every
third of the lease, so the lease only lapses when its runner has stopped."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from apibase.client_errors import ExpectedError, StatusError
from persona_runner.config import RunnerConfig
from persona_runner.internal_client import InternalClient

log = logging.getLogger("persona_runner.heartbeat")


class Heartbeat:
    """`with Heartbeat(...):` beats in a thread until the block ends. A lease that is
    gone (404) or another runner's (409) stops the beating and is kept in `lost`, which
    stops the tick (`tick.Guard`)."""

    def __init__(self, config: RunnerConfig, persona_id: str) -> None:
        # Its own client: a requests.Session is not to be shared between threads.
        self.internal = InternalClient(config)
        self.persona_id = persona_id
        self.runner_id = config.runner_id
        self.lease_seconds = config.lease_seconds
        self.lost: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{persona_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()
        self.internal.close()

    def _run(self) -> None:
        while not self._done.wait(self.lease_seconds / 3):
            try:
                self.internal.heartbeat(self.persona_id, self.runner_id, self.lease_seconds)
            except StatusError as exc:
                if exc.status in (404, 409):
                    self.lost = exc.detail
                    log.warning("lease of %s lost: %s", self.persona_id, exc.detail)
                    return
                log.warning("heartbeat for %s failed: %s", self.persona_id, exc.detail)
            except ExpectedError as exc:  # the API is away: the next beat may reach it
                log.warning("heartbeat for %s failed: %s", self.persona_id, exc)
