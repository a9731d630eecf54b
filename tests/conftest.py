"""Fixtures: a real PostgreSQL (started here unless one is given), the migrated schema,
the app, and the real processes (gunicorn, the mana-auth stand-in) for end-to-end tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import Config  # noqa: E402
from devstack.postgres import LocalPostgres, PostgresUnavailable, create_database  # noqa: E402
from devstack.processes import Process  # noqa: E402
from personas import create_app  # noqa: E402
from personas.migrate import apply  # noqa: E402
from tests.support.processes import ARTIFACTS, running_web  # noqa: E402, F401 - ARTIFACTS for the modules

pytest_plugins = [
    "tests.devauth_fixtures",
    "tests.devmcp_fixtures",
    "tests.devllm_fixtures",
    "tests.alerts_fixtures",
]

SERVICE_KEY = "test-service-key-0123456789"

# The parts of the suite that take seconds a test (real browsers, fuzzing, the PgBouncer
# rerun, runner services, whole processes under stress): `-m "not slow"` leaves them out.
SLOW = (
    "tests/browser/",
    "tests/e2e/",
    "tests/runner/test_service.py",
    "tests/service/pgbouncer/",
    "tests/service/test_fuzz.py",
    "tests/service/test_jwks_stall.py",
    "tests/service/test_outages.py",
    "tests/service/test_web_process.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


TABLES = (
    "personas.persona_actions",
    "personas.persona_feedback",
    "personas.personas",
    "personas.budget_holds",
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres | None]:
    """The throwaway cluster, or None when TEST_DATABASE_URL / DATABASE_URL names a server."""
    if os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL"):
        yield None
        return
    try:
        server = LocalPostgres()
    except PostgresUnavailable as exc:
        pytest.exit(str(exc), returncode=3)
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def server_url(pg_server: LocalPostgres | None) -> str:
    if pg_server is not None:
        return pg_server.url
    return os.environ.get("TEST_DATABASE_URL") or os.environ["DATABASE_URL"]


@pytest.fixture(scope="session")
def database_url(server_url: str) -> str:
    """A fresh database, migrated exactly as the `release` process does it."""
    url = create_database(server_url, f"personas_test_{os.getpid()}")
    apply(url)
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """A direct connection for arranging data and checking rows; tables start empty."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        # CASCADE: every table that references a persona empties with the personas.
        conn.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        yield conn


@pytest.fixture(scope="session")
def config(database_url: str, devauth: Process) -> Config:
    """The service's settings for tests: mana-auth is the stand-in, over real HTTP."""
    return Config(database_url=database_url, service_key=SERVICE_KEY, mana_auth_url=devauth.url)


class ReadingClient(FlaskClient):
    """Reads each answer whole before handing it over, as an HTTP server and client do.
    A streamed answer (/due, the admin list) holds its database connection until it is
    read or closed; left unread by a test, it would keep its transaction open."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@contextmanager
def running_app(config: Config, **options: bool) -> Iterator[Flask]:
    """The app built from `config` (and create_app's `options`; its test client reading
    answers whole), its pool closed afterwards."""
    application = create_app(config, **options)
    application.test_client_class = ReadingClient
    try:
        yield application
    finally:
        application.extensions["database"].close()


@pytest.fixture(scope="session")
def app(config: Config) -> Iterator[Flask]:
    with running_app(config) as application:
        yield application


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def internal_headers() -> dict[str, str]:
    return {"X-Service-Key": SERVICE_KEY}


@pytest.fixture(scope="session")
def service_env(database_url: str, devauth: Process) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "MANA_SERVICE_KEY": SERVICE_KEY,
        "APP_ENV": "test",
        "MANA_AUTH_URL": devauth.url,
    }


@pytest.fixture(scope="session")
def live_api(service_env: dict[str, str]) -> Iterator[Process]:
    """The service under gunicorn, shared by the tests that need real processes."""
    with running_web("web", service_env) as proc:
        yield proc
