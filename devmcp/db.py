"""devmcp's database: one async pool per process, its schema created at start, and the
named queries of devmcp/sql/*.sql (`-- name: <name><hint>`, `:param` placeholders)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

SQL_DIR = Path(__file__).resolve().parent / "sql"
CONNECT_KWARGS = {"connect_timeout": 5, "options": "-c timezone=UTC", "application_name": "devmcp"}
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)([\^!]?)\s*$", re.MULTILINE)
# A :name parameter, not a ::cast; the stand-in's SQL has no quoted colons.
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Queries:
    """The named queries of one .sql file, as async callables taking a connection."""

    def __init__(self, path: Path) -> None:
        text = path.read_text()
        heads = list(_NAME.finditer(text))
        for head, nxt in zip(heads, [*heads[1:], None], strict=True):
            body = text[head.end() : nxt.start() if nxt else len(text)]
            sql = _PARAM.sub(r"%(\1)s", re.sub(r"--[^\n]*", "", body)).strip()
            setattr(self, head.group(1), self._make(sql, head.group(2)))

    @staticmethod
    def _make(sql: str, hint: str):
        async def run(conn: psycopg.AsyncConnection, **params: Any) -> Any:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(sql, params)
                if hint == "!":
                    return cur.rowcount
                if hint == "^":
                    return await cur.fetchone()
                return await cur.fetchall()

        return run


def load_queries(group: str) -> Queries:
    return Queries(SQL_DIR / f"{group}.sql")


def create_schema(url: str) -> None:
    with psycopg.connect(url, **CONNECT_KWARGS) as conn, conn.transaction():
        conn.execute((SQL_DIR / "schema.sql").read_text())


def open_pool(url: str) -> AsyncConnectionPool:
    """A pool opened by the caller inside its event loop (`await pool.open()`)."""
    return AsyncConnectionPool(url, min_size=1, max_size=10, timeout=5, kwargs=CONNECT_KWARGS, open=False)
