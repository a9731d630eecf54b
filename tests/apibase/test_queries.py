"""The query loader: one tree of named queries, and a bad file named with its line."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from apibase.queries import QueryFileError, load_tree
from personas.queries import SQL_DIR, queries


def write(folder, name: str, text: str):
    path = folder / name
    path.write_text(text)
    return path


def test_the_tree_has_a_group_per_folder_and_skips_the_rules(tmp_path):
    (tmp_path / "internal").mkdir()
    write(tmp_path / "internal", "due.sql", "-- name: due_personas\nSELECT 1;\n")
    write(tmp_path, "keys.sql", "-- name: current_key^\nSELECT 2;\n-- name: drop_keys!\nDELETE FROM k;\n")
    (tmp_path / "functions").mkdir()
    write(tmp_path / "functions", "rules.sql", "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql;")
    tree = load_tree(tmp_path, skip=("functions",))
    assert tree.internal.due_personas.__name__ == "due_personas"
    assert tree.keys.current_key.sql.strip() == "SELECT 2;"
    assert not hasattr(tree, "functions")


def test_the_service_loads_every_folder_of_sql_once():
    folders = {p.name for p in SQL_DIR.iterdir() if p.is_dir()} - {"functions"}
    assert set(vars(queries)) == folders
    assert queries.internal.due_personas is queries.internal.due_personas


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("SELECT 1;\n", 1, "no `-- name:"),
        ("-- name: ok\nSELECT 1;\n\n-- name: Bad-Name\nSELECT 2;\n", 4, "is not `-- name:"),
        ("-- name: twice\nSELECT 1;\n-- name: twice\nSELECT 2;\n", 3, "defined twice"),
        ("-- name: empty^\n-- only a comment\n", 1, "has no SQL"),
    ],
)
def test_a_bad_query_file_is_named_with_its_line(tmp_path, text, line, problem):
    path = write(tmp_path, "bad.sql", text)
    with pytest.raises(QueryFileError, match=problem) as failure:
        load_tree(tmp_path)
    assert str(failure.value).startswith(f"{path}:{line}: ")


def test_a_committed_query_answers_and_leaves_nothing_held(tmp_path, database_url):
    """`.committed` runs the query and commits it in one go: what it wrote is visible to
    others and the transaction-scoped lock it took is free as soon as it answers."""
    write(
        tmp_path,
        "turns.sql",
        "-- name: take_turn^\nSELECT pg_advisory_xact_lock(4242) IS NULL AS waited, 7 AS n;\n",
    )
    tree = load_tree(tmp_path)
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url, autocommit=True) as other:
        conn.execute("SELECT 1")  # a transaction already open is committed with the query
        assert tree.turns.take_turn.committed(conn) == {"waited": False, "n": 7}
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert other.execute("SELECT pg_try_advisory_lock(4242)").fetchone()[0] is True
        other.execute("SELECT pg_advisory_unlock(4242)")
