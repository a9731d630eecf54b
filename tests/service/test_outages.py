"""PostgreSQL stopped under the running service: 503s while it is down, service again after."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devstack.postgres import LocalPostgres, PostgresUnavailable, create_database, free_port
from devstack.processes import Process, gunicorn_cmd
from personas.migrate import apply
from tests.conftest import ARTIFACTS, SERVICE_KEY

DUE = "/api/v1/personas/internal/due"
HEADERS = {"X-Service-Key": SERVICE_KEY}


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[LocalPostgres]:
    """A cluster of this module's own, so stopping it disturbs no other test."""
    try:
        server = LocalPostgres()
    except PostgresUnavailable as exc:
        pytest.skip(f"needs PostgreSQL server binaries to stop and start: {exc}")
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def service(own_postgres: LocalPostgres) -> Iterator[Process]:
    url = create_database(own_postgres.url, "outage")
    apply(url)
    port = free_port()
    env = {"DATABASE_URL": url, "MANA_SERVICE_KEY": SERVICE_KEY, "DB_POOL_TIMEOUT": "2"}
    proc = Process(
        "web-outage",
        gunicorn_cmd("app:app", port, workers=2, threads=4),
        env,
        port,
        log_path=ARTIFACTS / "web-outage.log",
    )
    try:
        yield proc.wait_ready()
    finally:
        proc.stop()


def get(service: Process, path: str) -> requests.Response:
    return requests.get(service.url + path, headers=HEADERS, timeout=10)


def test_database_outage_costs_only_503s_and_the_same_processes_recover(own_postgres, service):
    assert get(service, "/ready").status_code == 200
    assert get(service, DUE).status_code == 200
    pid = service.proc.pid

    own_postgres.stop("immediate")
    try:
        # More requests at once than the service has threads: none may hang.
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda _: get(service, DUE), range(16)))
        assert {a.status_code for a in answers} == {503}
        assert all(a.json()["error"] == "Unavailable" for a in answers)
        assert all(a.headers["Retry-After"] == "2" for a in answers)
        assert get(service, "/ready").status_code == 503
        assert get(service, "/health").status_code == 200
    finally:
        own_postgres.start()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and get(service, "/ready").status_code != 200:
        time.sleep(0.2)
    assert get(service, "/ready").status_code == 200
    assert get(service, DUE).status_code == 200
    assert service.proc.pid == pid and service.proc.poll() is None
