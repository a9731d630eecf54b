"""Behind PgBouncer in transaction pooling: the release and prune processes, the boot
check, and the per-transaction settings our queries rely on."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import psycopg
import pytest
from psycopg import sql

from config import Config, ConfigError
from devstack.postgres import create_database
from personas import create_app
from personas.db import get_db
from personas.errors import SchemaNotMigrated
from tests.conftest import SERVICE_KEY, running_app
from tests.service.factories import add_action, add_persona
from tests.service.pgbouncer.conftest import pooled
from tests.support.commands import run_module
from tests.support.retention import action_ids, days_ago, pruned

POOLING = {"DB_TRANSACTION_POOLING": "on"}
DUE = "/api/v1/personas/internal/due"


def release(database_url: str) -> subprocess.CompletedProcess:
    """The Procfile's release process, `python -m personas.migrate`."""
    return run_module("personas.migrate", env={"DATABASE_URL": database_url, **POOLING})


@pytest.fixture
def fresh_pooled_url(server_url, pgbouncer) -> str:
    """A new, unmigrated database whose own default time zone is not UTC, reached through
    the pooler: the service's sessions must say UTC however the database is set."""
    direct = create_database(server_url, "personas_pooled_fresh")
    with psycopg.connect(direct, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET timezone = 'Pacific/Auckland'").format(
                sql.Identifier("personas_pooled_fresh")
            )
        )
    return pooled(pgbouncer, direct)


def test_release_boot_check_and_requests_work_through_the_pooler(fresh_pooled_url, config):
    settings = replace(config, database_url=fresh_pooled_url)
    with pytest.raises(SchemaNotMigrated, match=r"python -m personas\.migrate"):
        create_app(settings)
    first, again = release(fresh_pooled_url), release(fresh_pooled_url)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert "0 applied" in again.stdout
    with running_app(settings) as app:
        client = app.test_client()
        for _ in range(20):  # more than psycopg's threshold for preparing a statement
            assert client.get(DUE, headers={"X-Service-Key": SERVICE_KEY}).status_code == 200
        assert client.get("/ready").status_code == 200


def test_each_transaction_runs_with_our_settings_and_leaves_none_behind(fresh_pooled_url, config):
    assert release(fresh_pooled_url).returncode == 0
    settings = replace(config, database_url=fresh_pooled_url, db_statement_timeout_ms=4321)
    names = ("TimeZone", "jit", "statement_timeout")
    with running_app(settings) as app, app.app_context():
        for _ in range(3):
            with get_db().connection() as conn:
                ours = [conn.execute(f"SHOW {name}").fetchone()[0] for name in names]
            assert ours == ["UTC", "off", "4321ms"]
    with psycopg.connect(fresh_pooled_url, prepare_threshold=None) as conn:
        theirs = [conn.execute(f"SHOW {name}").fetchone()[0] for name in names]
    assert theirs == ["Pacific/Auckland", "on", "0"]


def test_without_the_setting_every_request_is_503(config):
    """What DB_TRANSACTION_POOLING is for: PgBouncer refuses the startup options."""
    with running_app(replace(config, db_transaction_pooling=False)) as app:
        response = app.test_client().get(DUE, headers={"X-Service-Key": SERVICE_KEY})
    assert response.status_code == 503


def test_prune_works_through_the_pooler(db, pooled_database_url):
    add_persona(db, "p1")
    add_action(db, "p1", days_ago(91), action_id="expired")
    add_action(db, "p1", days_ago(1), action_id="recent")
    pruned(pooled_database_url, "--batch-size", "1", **POOLING)
    assert action_ids(db) == {"recent"}


def test_the_setting_reads_on_and_off_and_refuses_anything_else():
    base = {"DATABASE_URL": "postgresql://x@h/db"}
    assert Config.from_env(base).db_transaction_pooling is False
    assert Config.from_env({**base, "DB_TRANSACTION_POOLING": "on"}).db_transaction_pooling is True
    assert Config.from_env({**base, "DB_TRANSACTION_POOLING": "off"}).db_transaction_pooling is False
    with pytest.raises(ConfigError, match="DB_TRANSACTION_POOLING"):
        Config.from_env({**base, "DB_TRANSACTION_POOLING": "sometimes"})
