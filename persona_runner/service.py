"""`python -m persona_runner serve`: the long-running runner.

Every RUNNER_TICK_INTERVAL_S it claims as many due personas as it has free slots
(PERSONA_CONCURRENCY) and drives each in its own thread with the same Tick `--once`
uses. SIGTERM stops the claiming; running ticks get RUNNER_GRACE_S to end, then they are
stopped as timed out (their actions posted, their ticks reported, their leases released).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from apibase.client_errors import ExpectedError
from persona_runner.auth_client import AuthClient
from persona_runner.config import RunnerConfig
from persona_runner.drivers import Driver
from persona_runner.internal_client import InternalClient
from persona_runner.lease import Stopping
from persona_runner.metrics import RunnerMetrics
from persona_runner.models import Persona
from persona_runner.tick import Tick, error_line

log = logging.getLogger("persona_runner.service")


class RunnerService:
    def __init__(self, config: RunnerConfig, driver: Driver, out: TextIO | None = None) -> None:
        self.config = config
        self.driver = driver
        self.out = out or sys.stdout
        self.metrics = RunnerMetrics()
        self.claims = InternalClient(config)  # the loop thread's own; each tick has its own
        self.stopping = threading.Event()  # no more claims
        self.aborting = Stopping()  # the grace is over: running ticks stop now
        self.lock = threading.Lock()
        self.inflight: dict[str, threading.Thread] = {}
        self.last_tick_at: str | None = None

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
        while not self.stopping.is_set():
            self.claim_and_start()
            self.stopping.wait(self.config.tick_interval)
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
            batch = self.claims.claim(self.config.runner_id, free, self.config.lease_seconds)
        except ExpectedError as exc:
            self.say(f"runner: cannot claim from {self.config.api_url}: {error_line(exc)}")
            return
        for persona in batch.personas:
            worker = threading.Thread(
                target=self.drive, args=(persona, claimed_at), name=f"tick-{persona.user_id}"
            )
            with self.lock:
                self.inflight[persona.user_id] = worker
                self.metrics.inflight.set(len(self.inflight))
            worker.start()

    def drive(self, persona: Persona, claimed_at: float) -> None:
        internal, auth = InternalClient(self.config), AuthClient(self.config)
        try:
            result = Tick(self.config, self.driver, internal, auth).drive(
                persona, leased=True, stop=self.aborting, claimed_at=claimed_at
            )
            self.metrics.count(result)
            self.say(result.line())
        except Exception:  # a bug must not leave the slot taken forever
            log.exception("tick of %s crashed", persona.email)
        finally:
            internal.close()
            auth.close()
            with self.lock:
                self.inflight.pop(persona.user_id, None)
                self.metrics.inflight.set(len(self.inflight))
                self.last_tick_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")

    def finish(self) -> None:
        with self.lock:
            workers = list(self.inflight.values())
        if workers:
            self.say(f"runner: stopping; {len(workers)} ticks running, {self.config.grace_seconds:g}s to end")
        deadline = time.monotonic() + self.config.grace_seconds
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        self.aborting.set()
        for worker in workers:
            worker.join()
        self.say("runner: stopped")

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


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


def serve(config: RunnerConfig, driver: Driver) -> int:
    """Run until SIGTERM or SIGINT; 0 once every running tick is reported."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    service = RunnerService(config, driver)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: service.stop())
    server = health_server(service, config.host, config.port)
    try:
        service.run()
    finally:
        server.shutdown()
        server.server_close()
    return 0
