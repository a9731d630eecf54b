"""Every named query of sql/, loaded once per process: `queries.internal.due_personas(conn)`
runs `-- name: due_personas` of sql/internal/. sql/functions/ holds the rules `migrate`
applies (personas.is_due and the cadence gaps), not queries."""

from __future__ import annotations

from pathlib import Path

from apibase.queries import load_tree

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

queries = load_tree(SQL_DIR, skip=("functions",))
