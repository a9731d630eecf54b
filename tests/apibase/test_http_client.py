"""A runner polling a server never sends a request on a connection the server is closing
for idleness: a healthy API never shows up as `cannot claim ... connection failed`."""

from __future__ import annotations

import time

from apibase.http_client import IDLE_REUSE_LIMIT_S, JsonHttp
from tests.runner.service_stack import ARTIFACTS, start_runner, wait_for
from tests.support.keepalive import racing_server

# The server's keep-alive, and the runner's poll interval just past it: every poll comes
# after the connection's idle close, which this server lets win every race.
KEEPALIVE = IDLE_REUSE_LIMIT_S + 0.1
INTERVAL = IDLE_REUSE_LIMIT_S + 0.3


def test_a_runner_polling_at_the_servers_keepalive_never_fails_a_claim(devauth, devmcp, devllm):
    log = ARTIFACTS / "runner-keepalive.log"
    earlier = log.stat().st_size if log.exists() else 0  # the log is appended to, run after run
    with racing_server(KEEPALIVE, {"personas": []}) as api:
        runner = start_runner(
            "runner-keepalive",
            api,  # anything with a `url` will do as the personas API
            devauth,
            devmcp,
            devllm,
            RUNNER_TICK_INTERVAL_S=str(INTERVAL),
        )
        try:
            wait_for("five claims", lambda: len(api.answered) >= 5, timeout=30)
        finally:
            runner.stop()
    written = log.read_bytes()[earlier:].decode()
    assert "cannot claim" not in written, written
    assert api.lost == []


def test_connections_are_still_reused_within_a_burst():
    with racing_server(KEEPALIVE, {}) as server:
        http = JsonHttp(server.url, (3, 10))
        for _ in range(5):
            http.request("POST", "/api/v1/personas/internal/claims", json={})
        time.sleep(INTERVAL)
        http.request("POST", "/api/v1/personas/internal/claims", json={})
    assert server.lost == []
    assert server.connections == 2  # one for the burst, a fresh one after the idle pause
