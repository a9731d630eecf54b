"""The rollups behind insights (runs per day, tool health, weekly ratings) stay exact
however rows arrive or leave.

They are kept by triggers inside PostgreSQL, so every test writes rows some other way than
the API too (an operator's SQL, prune, a persona's cascade, TRUNCATE) and checks each rollup
against a plain aggregate over its source table at the same instant.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from personas.migrate import apply
from tests.service.factories import add_action, add_persona, add_tick, copy_rows
from tests.service.migrating import migrated_before, roll_back_only
from tests.support.retention import days_ago, pruned

PERSONAS = ["a", "b", "c"]
TOOLS = ["todo.create", "todo.list", "calendar.create", "notes"]

ROLLUPS = {
    # The latency histogram spelled out: calls per bucket from bucket 0 to the last bucket
    # with calls, zeros between (so '{}' for a day of untimed calls).
    "tools": (
        "SELECT tool, day, calls, errors, latency FROM personas.tool_calls_daily",
        "WITH plain AS (SELECT tool_name AS tool, (created_at AT TIME ZONE 'UTC')::date AS day,"
        " personas.latency_bucket(latency_ms) AS bucket, result FROM personas.persona_actions)"
        " SELECT tool, day, count(*), count(*) FILTER (WHERE result = 'error'),"
        " ARRAY(SELECT (SELECT count(*) FROM plain q WHERE (q.tool, q.day, q.bucket) = (p.tool, p.day, k))"
        "       FROM generate_series(0, max(bucket)) AS k)"
        " FROM plain p GROUP BY 1, 2",
    ),
    # The same per Monday (UTC): the weekly rollup a window's past weeks are read from.
    "tools weekly": (
        "SELECT tool, week, calls, errors, latency FROM personas.tool_calls_weekly",
        "WITH plain AS (SELECT tool_name AS tool,"
        " date_trunc('week', created_at AT TIME ZONE 'UTC')::date AS week,"
        " personas.latency_bucket(latency_ms) AS bucket, result FROM personas.persona_actions)"
        " SELECT tool, week, count(*), count(*) FILTER (WHERE result = 'error'),"
        " ARRAY(SELECT (SELECT count(*) FROM plain q WHERE (q.tool, q.week, q.bucket) = (p.tool, p.week, k))"
        "       FROM generate_series(0, max(bucket)) AS k)"
        " FROM plain p GROUP BY 1, 2",
    ),
    # A day whose ticks are all deleted keeps its row for its spend (below), with no runs.
    "runs": (
        "SELECT day, driver, ticks, ok, failed, timeout, running, input_tokens, output_tokens, cost_usd"
        " FROM personas.tick_runs_daily WHERE ticks <> 0",
        "SELECT (started_at AT TIME ZONE 'UTC')::date, coalesce(driver, ''), count(*),"
        " count(*) FILTER (WHERE state = 'ok'),"
        " count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'timeout'),"
        " count(*) FILTER (WHERE state = 'running'), sum(input_tokens), sum(output_tokens), sum(cost_usd)"
        " FROM personas.persona_ticks GROUP BY 1, 2",
    ),
    "ratings": (
        "SELECT week, module, archetype, total, n FROM personas.rating_weekly",
        "SELECT date_trunc('week', created_at AT TIME ZONE 'UTC')::date, module, archetype,"
        " sum(rating), count(*) FROM personas.persona_feedback GROUP BY 1, 2, 3",
    ),
}


def assert_rollups_exact(db) -> None:
    for name, (rollup, plain) in ROLLUPS.items():
        assert sorted(db.execute(rollup).fetchall()) == sorted(db.execute(plain).fetchall()), name


def rollup_rows(db) -> int:
    tables = ("tool_calls_daily", "tool_calls_weekly", "tick_runs_daily", "rating_weekly")
    return sum(db.execute(f"SELECT count(*) FROM personas.{table}").fetchone()[0] for table in tables)


@pytest.fixture
def history(db):
    """Three personas of two archetypes, with 20 days of actions, ratings and ticks."""
    for pid in PERSONAS:
        add_persona(db, pid, archetype="researcher" if pid == "c" else "solo-dev")
    rng = random.Random(14)
    now = datetime.now(UTC)

    def at() -> datetime:
        return now - timedelta(seconds=rng.uniform(0, 20 * 86400))

    actions = [
        (
            rng.choice(PERSONAS),
            f"act-{i}",
            f"tick-{i % 50}",
            rng.choice(TOOLS),
            "error" if rng.random() < 0.2 else "ok",
            None if rng.random() < 0.1 else rng.randrange(0, 60_000),
            at(),
        )
        for i in range(2000)
    ]
    ratings = [
        (rng.choice(PERSONAS), f"fb-{i}", f"tick-{i}", rng.choice(["todo", "notes"]), rng.randint(1, 5), at())
        for i in range(500)
    ]
    action_columns = ("persona_id", "id", "tick_id", "tool_name", "result", "latency_ms", "created_at")
    copy_rows(db, "personas.persona_actions", action_columns, actions)
    rating_columns = ("persona_id", "id", "tick_id", "module", "rating", "created_at")
    copy_rows(db, "personas.persona_feedback", rating_columns, ratings)
    for i in range(60):
        state = rng.choice(["ok", "ok", "failed", "timeout", "running"])
        add_tick(
            db,
            rng.choice(PERSONAS),
            f"tick-{i}",
            state=state,
            started_at=at(),
            input_tokens=rng.randrange(5000),
            output_tokens=rng.randrange(900),
            cost_usd=rng.randrange(100) / 1000,
            driver=rng.choice(["claude", "openai", None]),
        )
    return now


def test_rows_written_by_sql_are_rolled_up_exactly(db, history):
    assert_rollups_exact(db)
    assert rollup_rows(db) > 0


def test_a_tick_inserted_running_then_finished_counts_once_in_its_final_state(db, history):
    add_tick(db, "a", "live", state="running", input_tokens=0)
    assert_rollups_exact(db)
    db.execute(
        "UPDATE personas.persona_ticks SET state = 'failed', step = 'driver', finished_at = now(),"
        " input_tokens = 1200, output_tokens = 300, cost_usd = 0.0081 WHERE tick_id = 'live'"
    )
    assert_rollups_exact(db)
    today = db.execute(
        "SELECT sum(running), sum(failed) FROM personas.tick_runs_daily"
        " WHERE day = (now() AT TIME ZONE 'UTC')::date"
    ).fetchone()
    plain = db.execute(
        "SELECT count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state = 'failed')"
        " FROM personas.persona_ticks"
        " WHERE (started_at AT TIME ZONE 'UTC')::date = (now() AT TIME ZONE 'UTC')::date"
    ).fetchone()
    assert today == plain


def test_rows_moved_changed_or_deleted_by_sql_are_rolled_up_exactly(db, history):
    db.execute(
        "UPDATE personas.persona_actions SET created_at = created_at - interval '3 days', latency_ms = 7"
        " WHERE id LIKE 'act-1%'"
    )
    db.execute("UPDATE personas.persona_actions SET result = 'ok' WHERE id LIKE 'act-2%'")
    db.execute("DELETE FROM personas.persona_actions WHERE id LIKE 'act-3%'")
    db.execute(
        "UPDATE personas.persona_feedback SET rating = 1, created_at = created_at - interval '9 days'"
        " WHERE id LIKE 'fb-1%'"
    )
    db.execute("DELETE FROM personas.persona_feedback WHERE id LIKE 'fb-2%'")
    db.execute(
        "UPDATE personas.persona_ticks SET started_at = started_at - interval '2 days', cost_usd = 1"
        " WHERE tick_id LIKE 'tick-1%'"
    )
    db.execute("DELETE FROM personas.persona_ticks WHERE tick_id LIKE 'tick-2%'")
    db.execute("UPDATE personas.persona_ticks SET driver = 'openai' WHERE tick_id LIKE 'tick-3%'")
    assert_rollups_exact(db)


def test_deleting_a_persona_removes_its_rows_from_every_rollup(db, history):
    db.execute("DELETE FROM personas.personas WHERE user_id = 'a'")
    assert_rollups_exact(db)


def spent_per_day(db) -> dict:
    return dict(
        db.execute(
            "SELECT day, sum(spent_usd) FROM personas.tick_runs_daily GROUP BY day HAVING sum(spent_usd) <> 0"
        ).fetchall()
    )


def test_the_days_spend_follows_cost_and_start_and_stays_when_ticks_are_deleted(db, history):
    plain = (
        "SELECT (started_at AT TIME ZONE 'UTC')::date, sum(cost_usd) FROM personas.persona_ticks GROUP BY 1"
    )
    db.execute(
        "UPDATE personas.persona_ticks SET started_at = started_at - interval '2 days', cost_usd = 1"
        " WHERE tick_id LIKE 'tick-1%'"
    )
    spent = spent_per_day(db)
    assert spent == {day: cost for day, cost in db.execute(plain).fetchall() if cost}
    db.execute("DELETE FROM personas.personas WHERE user_id = 'a'")
    db.execute("DELETE FROM personas.persona_ticks WHERE tick_id LIKE 'tick-2%'")
    assert sum(cost for _, cost in db.execute(plain).fetchall()) < sum(spent.values())
    assert spent_per_day(db) == spent
    assert_rollups_exact(db)


def test_a_persona_changing_archetype_keeps_its_past_ratings_under_the_old_one(
    db, history, client, internal_headers
):
    db.execute("UPDATE personas.personas SET archetype = 'ceo-busy' WHERE user_id = 'c'")
    body = {"feedback": [{"tickId": "after-change", "module": "todo", "rating": 4}]}
    response = client.post("/api/v1/personas/internal/c/feedback", json=body, headers=internal_headers)
    assert response.status_code == 200, response.get_json()
    assert_rollups_exact(db)
    archetypes = dict(
        db.execute(
            "SELECT archetype, sum(n) FROM personas.rating_weekly"
            " WHERE archetype IN ('researcher', 'ceo-busy')"
            " GROUP BY 1"
        ).fetchall()
    )
    assert archetypes["ceo-busy"] == 1
    assert (
        archetypes["researcher"]
        == db.execute(
            "SELECT count(*) FROM personas.persona_feedback"
            " WHERE persona_id = 'c' AND tick_id <> 'after-change'"
        ).fetchone()[0]
    )


def test_actions_posted_through_the_api_are_rolled_up(db, history, client, internal_headers):
    batch = {
        "actions": [
            {
                "tickId": "api",
                "toolName": "todo.create",
                "result": "error",
                "errorMessage": "boom",
                "latencyMs": 30,
            }
            for _ in range(5)
        ]
    }
    response = client.post("/api/v1/personas/internal/b/actions", json=batch, headers=internal_headers)
    assert response.status_code == 200, response.get_json()
    assert_rollups_exact(db)


def test_prune_keeps_the_tool_rollup_exact(db, database_url, history):
    pruned(database_url, "--days", "10", "--batch-size", "100")
    [oldest_day] = db.execute("SELECT min(day) FROM personas.tool_calls_daily").fetchone()
    assert oldest_day >= days_ago(11).date()
    assert_rollups_exact(db)


def test_truncate_empties_the_rollups(db, history):
    db.execute("TRUNCATE personas.persona_actions")
    db.execute("TRUNCATE personas.persona_ticks, personas.persona_transcripts")  # a tick's transcript with it
    db.execute("TRUNCATE personas.persona_feedback")
    assert rollup_rows(db) == 0
    assert_rollups_exact(db)


def test_truncating_the_personas_with_cascade_empties_every_rollup(db, history):
    db.execute("TRUNCATE personas.personas CASCADE")
    assert rollup_rows(db) == 0


def test_the_weekly_tool_rollup_migration_fills_it_from_the_daily_one_and_rolls_back(server_url):
    """0023 backfills the weekly rollup from the daily one (calls, errors, histograms summed
    bucket by bucket), keeps both from then on, and its rollback leaves the daily one kept."""
    weekly = "0023_tool_calls_weekly"
    url = migrated_before(server_url, "personas_weekly_tools", weekly)
    now = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        add_persona(conn, "p1")
        for i in range(40):
            at = now - timedelta(hours=13 * i)
            add_action(
                conn, "p1", at, tool=TOOLS[i % 3], error="boom" if i % 5 == 0 else None, latency_ms=7 * i
            )
        assert apply(url)[0] == weekly  # and any later one, as a deploy does
        assert_rollups_exact(conn)
        add_action(conn, "p1", now, tool="notes", latency_ms=3)
        assert_rollups_exact(conn)
        roll_back_only(url, weekly)
        add_action(conn, "p1", now, tool="notes", latency_ms=3)
        tools = ROLLUPS["tools"]
        assert sorted(conn.execute(tools[0]).fetchall()) == sorted(conn.execute(tools[1]).fetchall())
