"""The admin list's 7-day activity stays right however action rows arrive or leave.

The figure is read from a rollup that triggers keep inside PostgreSQL, so every test
here writes rows some other way than the API too, and checks the list against a plain
count over the actions table at the same instant.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from personas.queries import queries
from personas.validation import PersonaListPage
from tests.service.factories import PERSONA_CHILD_TABLES, UNPAGED, add_persona, copy_rows, orphan_counts
from tests.support.retention import action_ids, days_ago, pruned

PERSONAS = ["a", "b", "c", "d"]
ANY = PersonaListPage().search_params()  # the whole list, not a search
BACKFILLED = {"tick_id": "backfill", "tool_name": "tool", "result": "ok"}


def listed(db, now: datetime) -> dict[str, int]:
    return {p["userId"]: p["actions7d"] for p in queries.admin.list_personas(db, now=now, **UNPAGED, **ANY)}


def counted(db, now: datetime) -> dict[str, int]:
    rows = db.execute(
        "SELECT p.user_id, count(a.id) FROM personas.personas p LEFT JOIN personas.persona_actions a"
        " ON a.persona_id = p.user_id AND a.created_at > %s - interval '7 days' AND a.created_at <= %s"
        " GROUP BY p.user_id",
        (now, now),
    ).fetchall()
    return dict(rows)


def backfill(db, rows: int, start: datetime, spread: timedelta, prefix: str) -> None:
    """An operator's SQL backfill: many rows, many personas, times over `spread`."""
    rng = random.Random(rows)
    values = [
        (
            PERSONAS[rng.randrange(len(PERSONAS))],
            f"{prefix}-{i}",
            start + timedelta(seconds=rng.uniform(0, spread.total_seconds())),
            *BACKFILLED.values(),
        )
        for i in range(rows)
    ]
    copy_rows(db, "personas.persona_actions", ("persona_id", "id", "created_at", *BACKFILLED), values)


def instants(now: datetime) -> list[datetime]:
    """Clocks at and after the newest row (actions are stamped when they arrive, so none is
    newer than the clock): now, on the next hour boundary, just after it, and later ones
    that put the window's first hour at other places in the history."""
    hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return [
        now,
        hour,
        hour + timedelta(seconds=1),
        now + timedelta(days=2, minutes=17),
        now + timedelta(days=6, hours=23),
    ]


@pytest.fixture
def personas_with_history(db):
    for pid in PERSONAS:
        add_persona(db, pid)
    now = datetime.now(UTC)
    backfill(db, 3000, now - timedelta(days=14), timedelta(days=14), "old")
    return now


def test_a_sql_backfill_is_counted_exactly(db, personas_with_history):
    for at in instants(personas_with_history):
        assert listed(db, at) == counted(db, at), at


def test_rows_moved_in_time_or_deleted_by_sql_are_counted_exactly(db, personas_with_history):
    db.execute(
        "UPDATE personas.persona_actions SET created_at = created_at - interval '3 days'"
        " WHERE id LIKE 'old-1%'"
    )
    db.execute("UPDATE personas.persona_actions SET persona_id = 'd' WHERE id LIKE 'old-2%'")
    db.execute("DELETE FROM personas.persona_actions WHERE id LIKE 'old-3%'")
    for at in instants(personas_with_history):
        assert listed(db, at) == counted(db, at), at


def test_actions_posted_through_the_api_are_counted(client, db, internal_headers, personas_with_history):
    batch = {"actions": [{"tickId": "live", "toolName": f"t{i}", "result": "ok"} for i in range(37)]}
    assert (
        client.post("/api/v1/personas/internal/b/actions", json=batch, headers=internal_headers).status_code
        == 200
    )
    now = datetime.now(UTC)
    assert listed(db, now) == counted(db, now)
    assert listed(db, now)["b"] >= 37


def test_prune_keeps_the_figures_right(db, database_url, personas_with_history):
    pruned(database_url, "--days", "10", "--batch-size", "100")
    assert action_ids(db, before=days_ago(10)) == set()
    for at in instants(datetime.now(UTC)):
        assert listed(db, at) == counted(db, at), at


def test_truncate_and_deleted_personas_leave_no_stale_counts(db, personas_with_history):
    db.execute("DELETE FROM personas.persona_actions WHERE persona_id = 'a'")
    assert (
        db.execute("SELECT count(*) FROM personas.persona_activity WHERE persona_id = 'a'").fetchone()[0] == 0
    )
    db.execute("TRUNCATE personas.persona_actions")
    assert db.execute("SELECT count(*) FROM personas.persona_activity").fetchone()[0] == 0
    assert set(listed(db, datetime.now(UTC)).values()) == {0}


def test_deleting_a_persona_takes_its_rollup_and_keeps_the_others_right(db, personas_with_history):
    """The cascade removes the persona's actions and its rollup rows, in whichever order
    PostgreSQL runs the two, without writing a rollup row for the persona that is gone."""
    db.execute("DELETE FROM personas.personas WHERE user_id = 'a'")
    assert (
        db.execute("SELECT count(*) FROM personas.persona_activity WHERE persona_id = 'a'").fetchone()[0] == 0
    )
    assert (
        db.execute("SELECT count(*) FROM personas.persona_actions WHERE persona_id = 'a'").fetchone()[0] == 0
    )
    for at in instants(datetime.now(UTC)):
        assert listed(db, at) == counted(db, at), at


def test_truncating_the_personas_with_cascade_empties_everything(db, personas_with_history):
    db.execute("TRUNCATE personas.personas CASCADE")
    assert orphan_counts(db) == dict.fromkeys(PERSONA_CHILD_TABLES, 0)
    assert db.execute("SELECT count(*) FROM personas.persona_activity").fetchone()[0] == 0
