"""Named SQL queries loaded from sql/, in the manner of aiosql.

Each query in a .sql file starts with `-- name: <name><hint>`; the hint says what
the call returns: `^` one row (or None), `$` one value, `!` the row count of a write,
nothing: every row. Parameters are written `:name` (as psql variables are), and turned
into psycopg's binary `%(name)b` once at load time (binary parameters: a 500-element
array costs a fifth of its text form). Rows come back as dicts.

A row query can also be opened as a server-side cursor, `with queries.name.declare(conn,
**params) as cur:`, and read in batches, so an answer of any size never sits whole in
the worker's memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg import Connection, ServerCursor
from psycopg.rows import dict_row

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)([\^$!]?)\s*$", re.MULTILINE)
# A :name parameter outside quotes, not a ::cast.
_TOKEN = re.compile(r"--[^\n]*|'(?:[^']|'')*'|\"[^\"]*\"|::|(?<![:\w]):([A-Za-z_]\w*)|%", re.DOTALL)


def _to_psycopg(sql: str) -> str:
    def swap(match: re.Match) -> str:
        text = match.group(0)
        if text.startswith("--"):
            return ""  # comments are for readers of the .sql file, not for the server
        if match.group(1):
            return f"%({match.group(1)})b"
        return "%%" if text == "%" else text

    return _TOKEN.sub(swap, sql)


def _make_query(name: str, hint: str, sql: str) -> Callable[..., Any]:
    def run(conn: Connection, **params: Any) -> Any:
        with conn.cursor(row_factory=dict_row, binary=True) as cur:
            cur.execute(sql, params, prepare=True)
            if hint == "!":
                return cur.rowcount
            if hint == "^":
                return cur.fetchone()
            if hint == "$":
                row = cur.fetchone()
                return None if row is None else next(iter(row.values()))
            return cur.fetchall()

    @contextmanager
    def declare(conn: Connection, **params: Any) -> Iterator[ServerCursor]:
        """The query as a server-side cursor (DECLARE), to read with fetchmany; it needs
        the connection's transaction open until it is closed."""
        with conn.cursor(name, row_factory=dict_row, binary=True) as cur:
            cur.execute(sql, params)
            yield cur

    run.__name__ = name
    run.declare = declare  # type: ignore[attr-defined]
    run.__doc__ = sql
    run.sql = sql  # type: ignore[attr-defined]
    return run


class Queries:
    """Every query of a folder of sql/ (or of one .sql file), as attributes named like the queries."""

    def __init__(self, source: str | Path) -> None:
        source = SQL_DIR / source if isinstance(source, str) else source
        for path in sorted(source.glob("*.sql")) if source.is_dir() else [source]:
            text = path.read_text()
            heads = list(_NAME.finditer(text))
            if not heads:
                raise ValueError(f"{path}: no `-- name:` line")
            for head, nxt in zip(heads, [*heads[1:], None], strict=True):
                body = text[head.end() : nxt.start() if nxt else len(text)].strip()
                name, hint = head.group(1), head.group(2)
                if hasattr(self, name):
                    raise ValueError(f"{path}: query {name} is defined twice")
                setattr(self, name, _make_query(name, hint, _to_psycopg(body)))
