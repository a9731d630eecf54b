"""`python -m persona_runner --once`: claim (or /due), drive each persona's tick in
turn, one line each and a summary. One persona's failure never stops the others."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from apibase.client_errors import ExpectedError
from persona_runner.auth_client import AuthClient
from persona_runner.config import RunnerConfig
from persona_runner.drivers import Driver
from persona_runner.internal_client import InternalClient
from persona_runner.tick import Tick, error_line

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_NO_TICK = 2


def run_once(
    config: RunnerConfig,
    driver: Driver,
    limit: int = 50,
    out: TextIO | None = None,
    internal: InternalClient | None = None,
    auth: AuthClient | None = None,
) -> int:
    """One pass over the due personas; 0 if all went well, 1 if any failed, 2 if none ran."""
    out = out or sys.stdout
    internal = internal or InternalClient(config)
    auth = auth or AuthClient(config)
    try:
        claimed_at = time.monotonic()  # the leases count from here, not from each tick's start
        try:
            batch = internal.claim_or_due(config.runner_id, limit, config.lease_seconds)
        except ExpectedError as exc:
            print(f"tick: cannot get due personas from {config.api_url}: {error_line(exc)}", file=out)
            return EXIT_NO_TICK
        if not batch.personas:
            print(f"tick: no personas due (via {batch.source})", file=out)
            return EXIT_OK
        tick = Tick(config, driver, internal, auth)
        failed = 0
        for persona in batch.personas:
            leased = batch.source == "claims"
            result = tick.drive(persona, leased=leased, claimed_at=claimed_at if leased else None)
            failed += result.state != "ok"
            print(result.line(), file=out, flush=True)
        total = len(batch.personas)
        print(f"tick: {total} personas (via {batch.source}), {total - failed} ok, {failed} failed", file=out)
        return EXIT_SOME_FAILED if failed else EXIT_OK
    finally:
        internal.close()
        auth.close()
