"""The stand-in's database: a pool per process (opened after gunicorn forks), the
schema created at boot, and the named queries of sql/*.sql."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask, current_app
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

SQL_DIR = Path(__file__).resolve().parent / "sql"
CONNECT_KWARGS = {"connect_timeout": 5, "options": "-c timezone=UTC", "application_name": "devauth"}
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)([\^$!]?)\s*$", re.MULTILINE)
# A comment, a quoted literal, a ::cast, a :name parameter, or a bare %.
_TOKEN = re.compile(r"--[^\n]*|'(?:[^']|'')*'|::|(?<![:\w]):([A-Za-z_]\w*)|%")


def _to_psycopg(sql: str) -> str:
    def swap(match: re.Match) -> str:
        text = match.group(0)
        if text.startswith("--"):
            return ""
        if match.group(1):
            return f"%({match.group(1)})s"
        return "%%" if text == "%" else text

    return _TOKEN.sub(swap, sql).strip()


def _query(hint: str, sql: str) -> Callable[..., Any]:
    """`^` one row or None, `$` one value, `!` rows affected, no hint: every row."""

    def run(conn: psycopg.Connection, **params: Any) -> Any:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            if hint == "!":
                return cur.rowcount
            if hint == "^":
                return cur.fetchone()
            if hint == "$":
                row = cur.fetchone()
                return None if row is None else next(iter(row.values()))
            return cur.fetchall()

    return run


class Queries:
    """The queries of one sql/<group>.sql file, as attributes named like the queries."""

    def __init__(self, group: str) -> None:
        text = (SQL_DIR / f"{group}.sql").read_text()
        heads = list(_NAME.finditer(text))
        for head, nxt in zip(heads, [*heads[1:], None], strict=True):
            body = text[head.end() : nxt.start() if nxt else len(text)]
            setattr(self, head.group(1), _query(head.group(2), _to_psycopg(body)))


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

    def create_schema(self, after: Callable[[psycopg.Connection], None]) -> None:
        """Create the schema (idempotently), then run `after` under the same lock."""
        with psycopg.connect(self.url, **CONNECT_KWARGS) as conn, conn.transaction():
            conn.execute((SQL_DIR / "schema.sql").read_text())
            after(conn)

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
