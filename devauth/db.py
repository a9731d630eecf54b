"""The stand-in's database: a pool per process (opened after gunicorn forks), the
schema created at boot (sql/schema.sql), and the named queries of the other sql/*.sql."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from flask import Flask, current_app
from psycopg_pool import ConnectionPool

from apibase.queries import load_tree

SQL_DIR = Path(__file__).resolve().parent / "sql"
SCHEMA_FILE = SQL_DIR / "schema.sql"
CONNECT_KWARGS = {"connect_timeout": 5, "options": "-c timezone=UTC", "application_name": "devauth"}
# Every named query of sql/, once per process: queries.users.insert_user(conn, ...).
queries = load_tree(SQL_DIR, skip=("schema",))


class Database:
    """A pool that opens on first use, so nothing connects before gunicorn forks."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None

    @property
    def pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.url, min_size=1, max_size=10, timeout=5, kwargs=CONNECT_KWARGS, name="devauth"
                )
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """One unit of work: commits on success, rolls back on any exception."""
        with self.pool.connection() as conn:
            yield conn

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def init_app(app: Flask, url: str) -> Database:
    database = Database(url)
    app.extensions["devauth.database"] = database
    return database


def get_db() -> Database:
    return current_app.extensions["devauth.database"]
