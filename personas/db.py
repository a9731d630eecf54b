"""The connection pool (one per process, opened lazily after gunicorn forks) and the
check that the database schema is migrated before any query touches it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import psycopg
from flask import Flask, current_app
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

from config import Config
from personas.errors import SchemaNotMigrated
from personas.migrate import APPLY_COMMAND, migration_ids
from personas.queries import queries

log = logging.getLogger(__name__)


def connect_kwargs(config: Config, application_name: str = "personas-api") -> dict:
    """How every connection of ours is made: UTC, bounded waits, no JIT.

    Behind a transaction pooler the settings are left to `apply_transaction_settings`
    and prepared statements are off: PgBouncer refuses the `options` startup parameter,
    and a statement prepared on one server connection is gone on the next.
    """
    kwargs: dict = {
        "connect_timeout": max(1, int(config.db_pool_timeout)),
        "application_name": application_name,
    }
    if config.db_transaction_pooling:
        kwargs["prepare_threshold"] = None
    else:
        kwargs["options"] = " ".join(f"-c {name}={value}" for name, value in session_settings(config).items())
    return kwargs


def session_settings(config: Config) -> dict[str, str]:
    """What every transaction of ours runs with, however it is connected.

    JIT compiling pays off for long analytics, not for our queries of tens of
    milliseconds: on the admin list it cost more than the query itself.
    """
    return {"timezone": "UTC", "jit": "off", "statement_timeout": str(config.db_statement_timeout_ms)}


def apply_transaction_settings(conn: psycopg.Connection, config: Config) -> None:
    """Behind a transaction pooler, set `session_settings` for the transaction `conn` is in."""
    if config.db_transaction_pooling:
        queries.session.apply_transaction_settings(conn, **session_settings(config))


class Database:
    """A pool that opens on first use, so nothing connects at import or before a fork."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._schema_ok = False

    @staticmethod
    def _configure(conn: psycopg.Connection) -> None:
        """jsonb values are parsed by orjson, as request bodies are."""
        set_json_loads(orjson.loads, conn)

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    pool = ConnectionPool(
                        self.config.database_url,
                        min_size=self.config.db_pool_min,
                        max_size=self.config.db_pool_max,
                        timeout=self.config.db_pool_timeout,
                        kwargs=connect_kwargs(self.config),
                        configure=self._configure,
                        reconnect_timeout=0,  # keep retrying while the database is away
                        open=False,
                        name="personas",
                    )
                    pool.open(wait=False)
                    self._pool = pool
        return self._pool

    @property
    def open_pool(self) -> ConnectionPool | None:
        """The pool if this process has opened it, without opening it."""
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """One unit of work: commits on success, rolls back on any exception."""
        with self.pool.connection() as conn:
            if not self._schema_ok:
                self._verify_schema(conn)
            apply_transaction_settings(conn, self.config)
            yield conn

    def _verify_schema(self, conn: psycopg.Connection) -> None:
        missing = self.pending_migrations(conn)
        if missing:
            raise SchemaNotMigrated(
                f"The database schema is not migrated ({len(missing)} pending, first {missing[0]}); "
                f"apply it with `{APPLY_COMMAND}` (the Procfile's release process)."
            )
        self._schema_ok = True

    @staticmethod
    def pending_migrations(conn: psycopg.Connection) -> list[str]:
        exists = conn.execute("SELECT to_regclass('_yoyo_migration') IS NOT NULL").fetchone()[0]
        applied: set[str] = set()
        if exists:
            applied = {row[0] for row in conn.execute("SELECT migration_id FROM _yoyo_migration")}
        conn.rollback()
        return [mid for mid in migration_ids() if mid not in applied]

    def check_at_boot(self) -> None:
        """Refuse to boot against an unmigrated database; tolerate one that is down."""
        try:
            with psycopg.connect(self.config.database_url, **connect_kwargs(self.config)) as conn:
                self._verify_schema(conn)
        except psycopg.OperationalError as exc:
            log.warning(
                "database unreachable at boot; /ready answers 503 until it is back: %s",
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def init_app(app: Flask, config: Config) -> Database:
    database = Database(config)
    app.extensions["database"] = database
    return database


def get_db() -> Database:
    return current_app.extensions["database"]
