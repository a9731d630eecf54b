"""The story so far: GET /internal/<id>/history, bounded whatever the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from personas.idempotency import KEY_MAX
from personas.queries import queries
from tests.service.factories import add_persona

BASE = "/api/v1/personas/internal"


def add_tick(db, persona: str, tick: str, started: datetime, state: str = "ok", space: str | None = None):
    db.execute(
        "INSERT INTO personas.persona_ticks (persona_id, tick_id, runner_id, state, step, space_id,"
        " started_at, finished_at) VALUES (%s, %s, 'r', %s, %s, %s, %s, %s)",
        (
            persona,
            tick,
            state,
            "driver" if state in ("failed", "timeout") else None,
            space,
            started,
            None if state == "running" else started + timedelta(minutes=2),
        ),
    )


def history(client, headers, persona: str = "p1", **query):
    return client.get(f"{BASE}/{persona}/history", query_string=query, headers=headers)


def test_finished_ticks_newest_first_with_tools_in_call_order_and_ratings(client, db, internal_headers):
    add_persona(db, "p1")
    now = datetime.now(UTC)
    add_tick(db, "p1", "old", now - timedelta(days=2), space="space-1")
    add_tick(db, "p1", "new", now - timedelta(days=1), state="failed")
    add_tick(db, "p1", "live", now, state="running")
    tools = [f"tool-{i}" for i in range(12)]  # tool-10 sorts before tool-2 as text
    actions = [{"tickId": "old", "toolName": t, "result": "error" if t == "tool-3" else "ok"} for t in tools]
    second_batch = [{"tickId": "old", "toolName": "late.call", "result": "ok"}]
    for batch in (actions, second_batch):
        assert (
            client.post(f"{BASE}/p1/actions", json={"actions": batch}, headers=internal_headers).status_code
            == 200
        )
    ratings = [
        {"tickId": "old", "module": "todo", "rating": 2, "notes": "slow"},
        {"tickId": "old", "module": "calendar", "rating": 5},
        {"tickId": "live", "module": "todo", "rating": 1},
    ]
    assert (
        client.post(f"{BASE}/p1/feedback", json={"feedback": ratings}, headers=internal_headers).status_code
        == 200
    )

    response = history(client, internal_headers)
    assert response.status_code == 200
    ticks = response.get_json()["ticks"]
    assert [t["tickId"] for t in ticks] == ["new", "old"]
    assert ticks[0]["state"] == "failed" and ticks[0]["tools"] == [] and ticks[0]["ratings"] == []
    old = ticks[1]
    assert old["spaceId"] == "space-1"
    assert datetime.fromisoformat(old["startedAt"]) == now - timedelta(days=2)
    assert [t["toolName"] for t in old["tools"]] == [*tools, "late.call"]
    assert old["tools"][3] == {"toolName": "tool-3", "result": "error"}
    assert old["ratings"] == [
        {"module": "calendar", "rating": 5, "notes": None},
        {"module": "todo", "rating": 2, "notes": "slow"},
    ]


def test_call_order_survives_over_long_hashed_keys(client, db, internal_headers):
    add_persona(db, "p1")
    tick = "t" * 200  # the key's head is cut before the index: only the stored index knows
    add_tick(db, "p1", tick, datetime.now(UTC))
    names = [f"module.tool-{'z' * 50}-{i}" for i in range(11, -1, -1)]
    assert len(f"{tick}-0-{names[0]}") > KEY_MAX
    actions = [{"tickId": tick, "toolName": n, "result": "ok"} for n in names]
    assert (
        client.post(f"{BASE}/p1/actions", json={"actions": actions}, headers=internal_headers).status_code
        == 200
    )
    tools = history(client, internal_headers).get_json()["ticks"][0]["tools"]
    assert [t["toolName"] for t in tools] == names


def test_rows_stored_before_call_index_read_it_from_their_key(client, db, internal_headers):
    add_persona(db, "p1")
    add_tick(db, "p1", "legacy", datetime.now(UTC))
    for i in (10, 2, 0, 1):
        db.execute(
            "INSERT INTO personas.persona_actions (persona_id, id, tick_id, tool_name, result, created_at)"
            " VALUES ('p1', %s, 'legacy', %s, 'ok', '2026-01-01T00:00:00Z')",
            (f"legacy-{i}-tool.{i}", f"tool.{i}"),
        )
    tools = history(client, internal_headers).get_json()["ticks"][0]["tools"]
    assert [t["toolName"] for t in tools] == ["tool.0", "tool.1", "tool.2", "tool.10"]


def test_the_story_is_bounded_however_long_the_history(client, db, internal_headers):
    add_persona(db, "p1")
    start = datetime.now(UTC) - timedelta(days=40)
    for day in range(30):
        add_tick(db, "p1", f"day-{day:02}", start + timedelta(days=day))
    actions = [{"tickId": "day-29", "toolName": f"t.{i}", "result": "ok"} for i in range(120)]
    assert (
        client.post(f"{BASE}/p1/actions", json={"actions": actions}, headers=internal_headers).status_code
        == 200
    )
    default = history(client, internal_headers).get_json()["ticks"]
    assert [t["tickId"] for t in default] == [f"day-{d}" for d in range(29, 24, -1)]
    assert [t["toolName"] for t in default[0]["tools"]] == [f"t.{i}" for i in range(50)]
    assert len(history(client, internal_headers, ticks=20).get_json()["ticks"]) == 20
    assert len(history(client, internal_headers, ticks=1).get_json()["ticks"]) == 1


def test_a_persona_without_finished_ticks_has_an_empty_story(client, db, internal_headers):
    add_persona(db, "p1")
    add_tick(db, "p1", "live", datetime.now(UTC), state="running")
    response = history(client, internal_headers)
    assert response.status_code == 200
    assert response.get_json() == {"ticks": []}


def test_an_unknown_persona_is_404(client, db, internal_headers):
    response = history(client, internal_headers, persona="nobody")
    assert response.status_code == 404
    assert response.get_json()["error"] == "NotFound"


@pytest.mark.parametrize("ticks", ["0", "21", "-1", "2.0", "five", "1e1", ""])
def test_a_bad_tick_count_is_400_naming_it(client, db, internal_headers, ticks):
    add_persona(db, "p1")
    response = history(client, internal_headers, ticks=ticks)
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == "ticks"


def test_history_sits_behind_the_service_key(client, db):
    add_persona(db, "p1")
    assert history(client, {"X-Service-Key": "nope"}).status_code == 401


def test_a_year_of_hourly_history_is_read_through_the_indexes(client, db, internal_headers):
    """At a year of hourly ticks the plan walks the recent-ticks index and stops at its
    LIMIT, and reads each tick's calls from the tick index: no scan of the persona's past."""
    add_persona(db, "p1", cadence="hourly")
    add_persona(db, "p2", cadence="hourly")
    for persona in ("p1", "p2"):
        db.execute(
            "INSERT INTO personas.persona_ticks"
            " (persona_id, tick_id, runner_id, state, started_at, finished_at)"
            " SELECT %s, 'h-' || h, 'r', 'ok', now() - h * interval '1 hour',"
            " now() - h * interval '1 hour' + interval '1 minute' FROM generate_series(1, 8760) h",
            (persona,),
        )
        db.execute(
            "INSERT INTO personas.persona_actions (persona_id, id, tick_id, tool_name, result, call_index,"
            " created_at) SELECT %s, 'h-' || h || '-' || i || '-todo.x', 'h-' || h, 'todo.x', 'ok', i,"
            " now() - h * interval '1 hour' FROM generate_series(1, 8760) h, generate_series(0, 4) i",
            (persona,),
        )
        db.execute(
            "INSERT INTO personas.persona_feedback (persona_id, id, tick_id, module, rating, created_at)"
            " SELECT %s, 'h-' || h || '-todo', 'h-' || h, 'todo', 1 + h %% 5, now() - h * interval '1 hour'"
            " FROM generate_series(1, 8760) h",
            (persona,),
        )
    db.execute("ANALYZE personas.persona_ticks")
    db.execute("ANALYZE personas.persona_actions")
    db.execute("ANALYZE personas.persona_feedback")
    sql = queries.internal.persona_history.sql.replace("%(persona_id)b", "'p1'")
    sql = sql.replace("%(ticks)b", "20").replace("%(tools)b", "50").replace("%(ratings)b", "100")
    plan = "\n".join(r[0] for r in db.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql))
    assert "persona_ticks_recent_idx" in plan, plan
    assert "persona_actions_tick_idx" in plan, plan
    assert "Seq Scan" not in plan, plan
    ticks = history(client, internal_headers, ticks=20).get_json()["ticks"]
    assert [t["tickId"] for t in ticks] == [f"h-{h}" for h in range(1, 21)]
    assert all(len(t["tools"]) == 5 and len(t["ratings"]) == 1 for t in ticks)
