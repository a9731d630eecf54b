"""Named SQL queries loaded from .sql files, in the manner of aiosql.

Each query in a .sql file starts with `-- name: <name><hint>`; the hint says what
the call returns: `^` one row (or None), `$` one value, `!` the row count of a write,
nothing: every row. Parameters are written `:name` (as psql variables are), and turned
into psycopg's binary `%(name)b` once at load time (binary parameters: a 500-element
array costs a fifth of its text form). Rows come back as dicts.

A row query can also be opened as a server-side cursor, `with queries.x.name.declare(conn,
**params) as cur:`, and read in batches, so an answer of any size never sits whole in
the worker's memory.

`queries.x.name.committed(conn, **params)` runs a query as a transaction of its own, its
COMMIT sent in the same round trip (a pipeline): a lock it takes is held while the server
runs it, never while the worker waits for its turn on a CPU between statement and COMMIT.

`load_tree(folder)` reads a folder once: `tree.internal.due_personas(conn, ...)` runs the
query `due_personas` of `internal/*.sql` (or of `internal.sql`). With `asynchronous=True`
the queries take a psycopg AsyncConnection and are awaited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from psycopg import AsyncConnection, Connection, ServerCursor
from psycopg.rows import dict_row

_NAME_LINE = re.compile(r"^--\s*name:(.*)$", re.MULTILINE)
_NAME = re.compile(r"\s*([a-z_][a-z0-9_]*)([\^$!]?)\s*")
# A :name parameter outside quotes, not a ::cast.
_TOKEN = re.compile(r"--[^\n]*|'(?:[^']|'')*'|\"[^\"]*\"|::|(?<![:\w]):([A-Za-z_]\w*)|%", re.DOTALL)


class QueryFileError(ValueError):
    """A .sql file that cannot be loaded; the message points at the file and line."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line


def _to_psycopg(sql: str) -> str:
    def swap(match: re.Match) -> str:
        text = match.group(0)
        if text.startswith("--"):
            return ""  # comments are for readers of the .sql file, not for the server
        if match.group(1):
            return f"%({match.group(1)})b"
        return "%%" if text == "%" else text

    return _TOKEN.sub(swap, sql)


def _first_value(row: dict | None) -> Any:
    return None if row is None else next(iter(row.values()))


def _answer(cur: Any, hint: str) -> Any:
    if hint == "!":
        return cur.rowcount
    if hint == "^":
        return cur.fetchone()
    if hint == "$":
        return _first_value(cur.fetchone())
    return cur.fetchall()


def _make_query(name: str, hint: str, sql: str, asynchronous: bool) -> Callable[..., Any]:
    def run(conn: Connection, **params: Any) -> Any:
        with conn.cursor(row_factory=dict_row, binary=True) as cur:
            cur.execute(sql, params, prepare=True)
            return _answer(cur, hint)

    def committed(conn: Connection, **params: Any) -> Any:
        """The query, then COMMIT of the connection's transaction, sent together; the
        answer is read once both have run."""
        with conn.pipeline(), conn.cursor(row_factory=dict_row, binary=True) as cur:
            cur.execute(sql, params, prepare=True)
            conn.commit()
            return _answer(cur, hint)

    async def run_async(conn: AsyncConnection, **params: Any) -> Any:
        async with conn.cursor(row_factory=dict_row, binary=True) as cur:
            await cur.execute(sql, params, prepare=True)
            if hint == "!":
                return cur.rowcount
            if hint == "^":
                return await cur.fetchone()
            if hint == "$":
                return _first_value(await cur.fetchone())
            return await cur.fetchall()

    @contextmanager
    def declare(conn: Connection, **params: Any) -> Iterator[ServerCursor]:
        """The query as a server-side cursor (DECLARE), to read with fetchmany; it needs
        the connection's transaction open until it is closed."""
        with conn.cursor(name, row_factory=dict_row, binary=True) as cur:
            cur.execute(sql, params)
            yield cur

    if asynchronous:
        run = run_async
    else:
        run.declare = declare  # type: ignore[attr-defined]
        run.committed = committed  # type: ignore[attr-defined]
    run.__name__ = name
    run.__doc__ = sql
    run.sql = sql  # type: ignore[attr-defined]
    return run


def load_file(path: Path, into: SimpleNamespace | None = None, asynchronous: bool = False) -> SimpleNamespace:
    """Every query of one .sql file, as attributes named like the queries."""
    queries = into if into is not None else SimpleNamespace()
    text = path.read_text()
    heads = list(_NAME_LINE.finditer(text))
    if not heads:
        raise QueryFileError(path, 1, "no `-- name: <query>` line")
    for head, nxt in zip(heads, [*heads[1:], None], strict=True):
        line = text.count("\n", 0, head.start()) + 1
        named = _NAME.fullmatch(head.group(1))
        if named is None:
            raise QueryFileError(path, line, f"`{head.group(0).strip()}` is not `-- name: lower_case[^$!]`")
        name, hint = named.groups()
        if hasattr(queries, name):
            raise QueryFileError(path, line, f"query {name} is defined twice")
        body = text[head.end() : nxt.start() if nxt else len(text)].strip()
        if not _TOKEN.sub("", body).strip(" \n;"):
            raise QueryFileError(path, line, f"query {name} has no SQL")
        setattr(queries, name, _make_query(name, hint, _to_psycopg(body), asynchronous))
    return queries


def load_tree(root: Path, skip: tuple[str, ...] = (), asynchronous: bool = False) -> SimpleNamespace:
    """Every query under `root`: one namespace per folder or per top-level .sql file."""
    tree = SimpleNamespace()
    for entry in sorted(root.iterdir()):
        group = entry.stem
        if group in skip:
            continue
        if entry.is_dir():
            queries = SimpleNamespace()
            for path in sorted(entry.glob("*.sql")):
                load_file(path, into=queries, asynchronous=asynchronous)
            setattr(tree, group, queries)
        elif entry.suffix == ".sql":
            setattr(tree, group, load_file(entry, asynchronous=asynchronous))
    return tree
