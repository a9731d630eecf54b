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
from devstack.postgres import LocalPostgres, PostgresUnavailable, create_database, free_port  # noqa: E402
from devstack.processes import Process, gunicorn_cmd  # noqa: E402
from personas import create_app  # noqa: E402
from personas.migrate import apply  # noqa: E402

pytest_plugins = ["tests.devauth_fixtures", "tests.devmcp_fixtures", "tests.devllm_fixtures"]

SERVICE_KEY = "test-service-key-0123456789"
ARTIFACTS = ROOT / "artifacts"
TABLES = ("personas.persona_actions", "personas.persona_feedback", "personas.personas")


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
def running_app(config: Config) -> Iterator[Flask]:
    """The app built from `config` (its test client reading answers whole), its pool
    closed afterwards."""
    application = create_app(config)
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


def start_web(name: str, env: dict[str, str], workers: int = 2, threads: int = 8) -> Process:
    """The service under gunicorn, as the Procfile runs it, logging to artifacts/<name>.log."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    cmd = gunicorn_cmd("app:app", port, workers=workers, threads=threads)
    proc = Process(name, cmd, env, port, log_path=ARTIFACTS / f"{name}.log")
    try:
        return proc.wait_ready()
    except BaseException:
        proc.stop()
        raise


@pytest.fixture(scope="session")
def live_api(service_env: dict[str, str]) -> Iterator[Process]:
    """The service under gunicorn, shared by the tests that need real processes."""
    proc = start_web("web", service_env)
    try:
        yield proc
    finally:
        proc.stop()
