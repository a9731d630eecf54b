"""The service behind a real PgBouncer in transaction pooling: the same fixtures as the
rest of the suite, with the service's connections (in-process and under gunicorn) going
through the pooler, and `DB_TRANSACTION_POOLING=on` as a deployment there sets it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from psycopg.conninfo import conninfo_to_dict

from config import Config
from devstack.pgbouncer import LocalPgBouncer, PgBouncerUnavailable
from devstack.processes import Process
from tests.conftest import running_app
from tests.support.processes import running_web


@pytest.fixture(scope="session")
def pgbouncer(server_url: str) -> Iterator[LocalPgBouncer]:
    try:
        bouncer = LocalPgBouncer(server_url)
    except PgBouncerUnavailable as exc:
        pytest.skip(f"the PgBouncer tests need PgBouncer: {exc}")
    bouncer.start()
    yield bouncer
    bouncer.destroy()


def pooled(bouncer: LocalPgBouncer, direct_url: str) -> str:
    """The URL of the database of `direct_url`, through the pooler."""
    return bouncer.url_for(conninfo_to_dict(direct_url)["dbname"])


@pytest.fixture(scope="session")
def pooled_database_url(pgbouncer: LocalPgBouncer, database_url: str) -> str:
    return pooled(pgbouncer, database_url)


@pytest.fixture(scope="session")
def config(config: Config, pooled_database_url: str) -> Config:
    return replace(config, database_url=pooled_database_url, db_transaction_pooling=True)


@pytest.fixture(scope="session")
def app(config: Config) -> Iterator[Flask]:
    with running_app(config) as application:
        yield application


@pytest.fixture(scope="session")
def service_env(service_env: dict[str, str], pooled_database_url: str) -> dict[str, str]:
    return {**service_env, "DATABASE_URL": pooled_database_url, "DB_TRANSACTION_POOLING": "on"}


@pytest.fixture(scope="session")
def live_api(service_env: dict[str, str]) -> Iterator[Process]:
    with running_web("web-pgbouncer", service_env) as proc:
        yield proc
