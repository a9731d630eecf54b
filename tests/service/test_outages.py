"""PostgreSQL stopped under the running service: 503s while it is down, service again after."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import psycopg
import pytest
import requests
from flask import Response
from psycopg.errors import QueryCanceled

from devstack.postgres import LocalPostgres, PostgresUnavailable, create_database
from devstack.processes import Process
from personas.migrate import apply
from tests.conftest import SERVICE_KEY, running_app
from tests.service.factories import add_persona, count_rows
from tests.support.processes import running_web

INTERNAL = "/api/v1/personas/internal"
DUE = f"{INTERNAL}/due"
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
    env = {"DATABASE_URL": url, "MANA_SERVICE_KEY": SERVICE_KEY, "DB_POOL_TIMEOUT": "2"}
    with running_web("web-outage", env, threads=4) as proc:
        yield proc


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


# Only an outage is "try again": a pool with no connection to give, or a connection lost.
# A statement timeout is a query of ours that took too long, and says so as a 500.


@pytest.fixture
def one_connection_app(config):
    """The service with a pool of exactly one connection and a short statement timeout."""
    settings = replace(config, db_pool_min=1, db_pool_max=1, db_pool_timeout=0.5, db_statement_timeout_ms=300)
    with running_app(settings) as app:
        yield app


def post_action(app, persona: str) -> Response:
    body = {"actions": [{"tickId": "t1", "toolName": "todo.list", "result": "ok"}]}
    return app.test_client().post(f"{INTERNAL}/{persona}/actions", json=body, headers=HEADERS)


def test_a_pool_with_no_connection_to_give_is_503(one_connection_app, db):
    add_persona(db, "p1")
    with one_connection_app.extensions["database"].pool.connection():
        response = post_action(one_connection_app, "p1")
    assert response.status_code == 503
    assert response.get_json()["error"] == "Unavailable"
    assert response.headers["Retry-After"] == "2"


def test_a_connection_lost_under_the_service_is_503(one_connection_app, db):
    add_persona(db, "p1")
    with one_connection_app.extensions["database"].pool.connection() as conn:
        backend = conn.info.backend_pid
    db.execute("SELECT pg_terminate_backend(%s)", (backend,))
    response = post_action(one_connection_app, "p1")
    assert response.status_code == 503
    assert response.get_json()["error"] == "Unavailable"
    assert post_action(one_connection_app, "p1").status_code == 200  # a new connection serves


def test_a_statement_timeout_is_a_500_logged_with_its_request_id(one_connection_app, db, caplog):
    add_persona(db, "p1")
    with psycopg.connect(db.info.dsn) as holder:
        holder.execute("SELECT 1 FROM personas.personas WHERE user_id = 'p1' FOR UPDATE")
        response = post_action(one_connection_app, "p1")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "InternalError" and "Retry-After" not in response.headers
    assert body["requestId"] == response.headers["X-Request-Id"]
    logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], QueryCanceled)]
    assert logged and logged[0].request_id == body["requestId"]
    assert count_rows(db, "persona_actions") == 0
