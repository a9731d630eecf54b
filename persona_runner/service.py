"""`python -m persona_runner serve`: the long-running runner.

Every RUNNER_TICK_INTERVAL_S it claims as many due personas as it has free slots
(PERSONA_CONCURRENCY) and hands each to a worker: one thread per slot, driving one tick
at a time with the same Tick `--once` uses, and keeping across its ticks what a tick
would otherwise build again (its HTTP clients and their connections, an event loop with
the driver's model client and product connections). SIGTERM stops the claiming; running
ticks get RUNNER_GRACE_S to end, then they are stopped as timed out (their actions
posted, their ticks reported, their leases released).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from apibase.client_errors import ExpectedError
from persona_runner.auth_client import AuthClient
from persona_runner.config import RunnerConfig
from persona_runner.drivers import Driver
from persona_runner.internal_client import DueBatch, InternalClient
from persona_runner.lease import Stopping
from persona_runner.metrics import RunnerMetrics
from persona_runner.models import Persona
from persona_runner.tick import Tick, error_line
from persona_runner.token_cache import TokenCache

log = logging.getLogger("persona_runner.service")


class RunnerService:
    def __init__(
        self, config: RunnerConfig, driver: Driver, out: TextIO | None = None, fallback: Driver | None = None
    ) -> None:
        self.config = config
        self.driver = driver
        # Past the fleet budget, the cost-free claims' driver (RUNNER_FALLBACK_DRIVER).
        self.fallback = fallback
        self.on_fallback = False
        self.out = out or sys.stdout
        self.metrics = RunnerMetrics()
        self.claims = InternalClient(config)  # the loop thread's own; each tick has its own
        self.tokens = TokenCache(keep_for=config.tick_timeout)  # personas' tokens, across ticks
        self.stopping = threading.Event()  # no more claims
        self.aborting = Stopping()  # the grace is over: running ticks stop now
        self.lock = threading.Lock()
        self.ended = threading.Condition(self.lock)  # a tick ended
        self.inflight: set[str] = set()  # the personas claimed and not yet done
        self.last_tick_at: str | None = None
        self.jobs: queue.SimpleQueue[tuple[Persona, float, Driver] | None] = queue.SimpleQueue()
        self.workers = [
            threading.Thread(target=self.work, name=f"worker-{n}") for n in range(config.concurrency)
        ]

    def health(self) -> dict[str, Any]:
        with self.lock:
            inflight = len(self.inflight)
            last = self.last_tick_at
        return {
            "status": "ok",
            "runnerId": self.config.runner_id,
            "driver": self.driver.name,
            "paused": self.config.paused,
            "concurrency": self.config.concurrency,
            "inflight": inflight,
            "lastTickAt": last,
        }

    def run(self) -> None:
        """Claim and drive until `stop()`, then end the running ticks within the grace."""
        self.say(
            f"runner: {self.config.runner_id} serving with the {self.driver.name} driver, "
            f"{self.config.concurrency} slots, every {self.config.tick_interval:g}s"
            + (" (paused: claiming nothing)" if self.config.paused else "")
        )
        for worker in self.workers:
            worker.start()
        try:
            while not self.stopping.is_set():
                self.claim_and_start()
                self.stopping.wait(self.config.tick_interval)
        finally:  # the workers wait for work until told there is none
            self.finish()
            self.claims.close()

    def stop(self) -> None:
        self.stopping.set()

    def claim_and_start(self) -> None:
        if self.config.paused:
            return
        with self.lock:
            free = self.config.concurrency - len(self.inflight)
        if free <= 0:
            return
        claimed_at = time.monotonic()  # the leases count from here, not from the answer
        try:
            batch, driver = self.claim(free)
        except ExpectedError as exc:
            self.say(f"runner: cannot claim from {self.config.api_url}: {error_line(exc)}")
            return
        for persona in batch.personas:
            with self.lock:
                self.inflight.add(persona.user_id)
                self.metrics.inflight.set(len(self.inflight))
            self.jobs.put((persona, claimed_at, driver))  # a worker is free: no more are claimed

    def claim(self, free: int) -> tuple[DueBatch, Driver]:
        """Due personas and the driver for them: the runner's own, or past the fleet budget
        (a claim empty because the budget is reached) the fallback's, claimed cost-free."""
        runner_id, lease = self.config.runner_id, self.config.lease_seconds
        batch = self.claims.claim(runner_id, free, lease)
        past_budget = batch.budget_reached and not batch.personas and self.fallback is not None
        if past_budget != self.on_fallback:
            self.on_fallback = past_budget
            self.say(
                f"runner: the fleet budget is reached; claiming cost-free for the {self.fallback.name} driver"
                if past_budget
                else f"runner: claiming for the {self.driver.name} driver again"
            )
        if not past_budget:
            return batch, self.driver
        return self.claims.claim(runner_id, free, lease, cost_free=True), self.fallback

    def work(self) -> None:
        """One slot: the ticks handed to it, one at a time, until told to stop (None).
        Its clients live as long as it does; the driver's async ones in its event loop,
        where they are also closed (see worker_clients)."""
        internal, auth = InternalClient(self.config), AuthClient(self.config, tokens=self.tokens)
        drivers = [self.driver] if self.fallback is None else [self.driver, self.fallback]
        with asyncio.Runner() as loop:
            kept = [d for d in drivers if keep_driver_clients(d, loop)]
            try:
                while (job := self.jobs.get()) is not None:
                    persona, claimed_at, driver = job
                    tick = Tick(self.config, driver, internal, auth, run_driver=in_loop(loop))
                    self.drive(persona, claimed_at, tick)
            finally:
                internal.close()
                auth.close()
                for driver in kept:
                    loop.run(driver.close_worker())

    def drive(self, persona: Persona, claimed_at: float, tick: Tick) -> None:
        try:
            result = tick.drive(persona, leased=True, stop=self.aborting, claimed_at=claimed_at)
            self.metrics.count(result)
            self.say(result.line())
        except Exception:  # a bug must not leave the slot taken forever
            log.exception("tick of %s crashed", persona.email)
        finally:
            with self.lock:
                self.inflight.discard(persona.user_id)
                self.metrics.inflight.set(len(self.inflight))
                self.last_tick_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
                self.ended.notify_all()

    def finish(self) -> None:
        with self.lock:
            running = len(self.inflight)
        if running:
            self.say(f"runner: stopping; {running} ticks running, {self.config.grace_seconds:g}s to end")
        with self.lock:
            self.ended.wait_for(lambda: not self.inflight, timeout=self.config.grace_seconds)
        self.aborting.set()
        for _ in self.workers:
            self.jobs.put(None)
        for worker in self.workers:
            worker.join()
        self.say("runner: stopped")

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def keep_driver_clients(driver: Driver, loop: asyncio.Runner) -> bool:
    """Whether the driver keeps its clients in this worker's event loop; one that cannot
    make them leaves each tick to make its own."""
    try:
        loop.run(driver.open_worker())
    except Exception:
        log.exception("%s driver: no clients kept; each tick makes its own", driver.name)
        return False
    return True


def in_loop(loop: asyncio.Runner) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """`loop.run` with the coroutine in a copy of the calling thread's context, as
    `asyncio.run` does: a Runner otherwise runs every coroutine in the one context it
    copied at its first run, so a tick would not see its own trace span, and would see
    what an earlier tick's coroutine set."""
    return lambda coro: loop.run(coro, context=contextvars.copy_context())


def health_server(service: RunnerService, host: str, port: int) -> ThreadingHTTPServer:
    """GET /health and GET /metrics on `host`:`port`, served from a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                self.send(200, "application/json", json.dumps(service.health()).encode())
            elif self.path == "/metrics":
                self.send(200, "text/plain; version=0.0.4; charset=utf-8", service.metrics.exposition())
            else:
                body = {"error": "not_found", "message": f"no route {self.path}; try /health or /metrics"}
                self.send(404, "application/json", json.dumps(body).encode())

        def send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would drown the tick lines

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def serve(config: RunnerConfig, driver: Driver, fallback: Driver | None = None) -> int:
    """Run until SIGTERM or SIGINT; 0 once every running tick is reported."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    service = RunnerService(config, driver, fallback=fallback)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: service.stop())
    server = health_server(service, config.host, config.port)
    try:
        service.run()
    finally:
        server.shutdown()
        server.server_close()
    return 0
