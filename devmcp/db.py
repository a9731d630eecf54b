"""devmcp's database: one async pool per process, its schema created at start, and the
named queries of devmcp/sql/*.sql, loaded by the loader the service uses too."""

from __future__ import annotations

from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from apibase.queries import load_tree

SQL_DIR = Path(__file__).resolve().parent / "sql"
SCHEMA_FILE = SQL_DIR / "schema.sql"
CONNECT_KWARGS = {"connect_timeout": 5, "options": "-c timezone=UTC", "application_name": "devmcp"}
# Every named query of sql/ (but the schema), awaited: queries.items.insert_item(conn, ...).
queries = load_tree(SQL_DIR, skip=("schema",), asynchronous=True)


def open_pool(url: str) -> AsyncConnectionPool:
    """A pool opened by the caller inside its event loop (`await pool.open()`)."""
    return AsyncConnectionPool(url, min_size=1, max_size=10, timeout=5, kwargs=CONNECT_KWARGS, open=False)
