"""The web process under gunicorn as the Procfile runs it: slow clients starve nothing and
are dropped in the end, requests gunicorn refuses get the contract's JSON errors, and the
metrics directory it makes for itself is gone once it stops."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.processes import Process
from devstack.slow_clients import SlowClients
from tests.conftest import SERVICE_KEY
from tests.support.processes import running_web

INTERNAL = "/api/v1/personas/internal"
HEADERS = {"X-Service-Key": SERVICE_KEY}
# How long a body may take in the short-timeout process below (its --timeout).
BODY_SECONDS = 3


@pytest.fixture(scope="module")
def short_web(service_env: dict[str, str]) -> Iterator[Process]:
    """One more web process whose bodies must arrive within BODY_SECONDS."""
    with running_web("web-short", service_env, workers=1, timeout=BODY_SECONDS) as proc:
        yield proc


def answers(url: str, path: str, headers: dict[str, str], times: int) -> list[int]:
    return [requests.get(url + path, headers=headers, timeout=10).status_code for _ in range(times)]


# ---------------------------------------------------------------------------------------
# Slow clients


def test_health_and_internal_routes_answer_while_slow_clients_hold_sockets(live_api: Process, db):
    host, port = "127.0.0.1", live_api.port
    claims = f"{INTERNAL}/claims"
    slow = [
        SlowClients(host, port, idle=200, slow_headers=100),
        SlowClients(host, port, slow_bodies=16, body_path=claims),
        SlowClients(host, port, slow_bodies=16, body_path=claims, body_headers=HEADERS),
    ]
    for group in slow:
        group.start()
    try:
        time.sleep(2)  # every slow socket accepted and holding whatever it holds
        health = answers(live_api.url, "/health", {}, 20)
        due = answers(live_api.url, f"{INTERNAL}/due", HEADERS, 20)
        still_open = sum(group.open_count() for group in slow)
    finally:
        for group in slow:
            group.stop()
    assert health == [200] * 20
    assert due == [200] * 20
    assert still_open == 200 + 100 + 16 + 16


def test_slow_clients_are_dropped_in_the_end(short_web: Process):
    """Idle, header-trickling and body-trickling sockets are all closed by the server."""
    host, port = "127.0.0.1", short_web.port
    slow = SlowClients(host, port, idle=1, slow_headers=1, interval=0.5, reopen=False)
    body = SlowClients(
        host,
        port,
        slow_bodies=1,
        body_path=f"{INTERNAL}/claims",
        body_headers=HEADERS,
        interval=0.5,
        reopen=False,
    )
    with slow, body:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (slow.stats.dropped < 2 or body.stats.dropped < 1):
            time.sleep(0.2)
    assert slow.stats.dropped == 2
    assert body.stats.dropped == 1


def test_an_overdue_body_is_answered_with_a_json_400(short_web: Process):
    head = (
        f"POST {INTERNAL}/claims HTTP/1.1\r\nHost: x\r\nX-Service-Key: {SERVICE_KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    with socket.create_connection(("127.0.0.1", short_web.port), timeout=BODY_SECONDS + 20) as sock:
        sock.sendall(head.encode())
        status, body = parse_answer(recv_all(sock))
    assert status == 400
    assert body["error"] == "BadRequest"
    assert body["message"]


# ---------------------------------------------------------------------------------------
# Requests gunicorn refuses before the app sees them


def raw_request(url_port: int, data: bytes) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", url_port), timeout=10) as sock:
        sock.sendall(data)
        return parse_answer(recv_all(sock))


def recv_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def parse_answer(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"].startswith("application/json"), raw[:300]
    return int(lines[0].split()[1]), json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status", "error"),
    [
        pytest.param(b"NOT A REQUEST LINE\r\n\r\n", 400, "BadRequest", id="bad-request-line"),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "BadRequest", id="bad-header"
        ),
        pytest.param(b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "URITooLong", id="uri"),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
            431,
            "RequestHeaderFieldsTooLarge",
            id="header-size",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: 1\r\n" % n for n in range(120))
            + b"\r\n",
            431,
            "RequestHeaderFieldsTooLarge",
            id="header-count",
        ),
    ],
)
def test_requests_gunicorn_refuses_get_json_errors(live_api: Process, request_bytes, status, error):
    got_status, body = raw_request(live_api.port, request_bytes)
    assert got_status == status
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]


# ---------------------------------------------------------------------------------------
# The metrics directory


def metrics_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("personas-metrics-*"))


def test_the_metrics_directory_made_at_start_is_removed_at_shutdown(service_env, tmp_path: Path):
    env = {**service_env, "TMPDIR": str(tmp_path), "PROMETHEUS_MULTIPROC_DIR": ""}
    with running_web("web-metrics-dir", env, workers=1) as proc:
        assert requests.get(proc.url + "/metrics", timeout=10).status_code == 200
        made = metrics_dirs(tmp_path)
        assert len(made) == 1 and any(made[0].iterdir())
    assert proc.proc.returncode == 0
    assert metrics_dirs(tmp_path) == []


def test_a_metrics_directory_given_by_the_operator_is_left_in_place(service_env, tmp_path: Path):
    given = tmp_path / "metrics"
    with running_web(
        "web-metrics-given", {**service_env, "PROMETHEUS_MULTIPROC_DIR": str(given)}, workers=1
    ) as proc:
        assert requests.get(proc.url + "/metrics", timeout=10).status_code == 200
    assert given.is_dir()
