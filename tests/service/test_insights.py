"""GET /api/v1/personas/admin/insights: weekly trends, stale personas and friction notes,
as the contract promises them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from personas.queries import queries
from tests.conftest import running_app
from tests.devauth_fixtures import mint_token
from tests.service.factories import add_action, add_persona, add_rating, add_tick
from tests.support.auth import bearer
from tests.support.refusals import assert_refused_naming
from tests.support.weeks import monday, this_monday, week

URL = "/api/v1/personas/admin/insights"


def rate(db, module: str, by_week: dict[int, list[int]], persona: str = "p1") -> None:
    for ago, ratings in by_week.items():
        for i, value in enumerate(ratings):
            add_rating(db, persona, module, value, week(ago, hours=1 + i))


@pytest.fixture
def admin(client, devauth):
    """GET the insights route with an admin token; returns the response."""
    headers = bearer(mint_token(devauth, role="admin"))

    def get(**params):
        return client.get(URL, query_string=params, headers=headers)

    return get


def modules_of(response) -> dict[str, dict]:
    assert response.status_code == 200, response.get_json()
    return {m["module"]: m for m in response.get_json()["modules"]}


# --- the gate -----------------------------------------------------------------------------


def test_insights_refuse_a_request_without_a_token(client):
    response = client.get(URL)
    assert response.status_code == 401
    assert response.get_json()["error"] == "Unauthorized"


def test_insights_refuse_a_user_token(client, devauth):
    token = mint_token(devauth, role="user")
    response = client.get(URL, headers=bearer(token))
    assert response.status_code == 403
    assert response.get_json()["error"] == "Forbidden"


# --- the weeks parameter --------------------------------------------------------------------


@pytest.mark.parametrize("weeks", ["0", "53", "x", "-1", "8.0", ""])
def test_weeks_outside_1_to_52_is_a_validation_error_naming_weeks(admin, weeks):
    assert_refused_naming(admin(weeks=weeks), "weeks")


def test_archetype_over_200_characters_is_a_validation_error(admin):
    response = admin(archetype="a" * 201)
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == "archetype"


def test_an_empty_database_answers_with_empty_lists_and_8_weeks_by_default(admin, db):
    body = admin().get_json()
    assert body["weeks"] == 8
    assert body["modules"] == [] and body["stale"] == [] and body["friction"] == []
    assert datetime.fromisoformat(body["generatedAt"]) <= datetime.now(UTC)


# --- weekly buckets -------------------------------------------------------------------------


def test_weekly_buckets_start_on_monday_utc_one_per_week_oldest_first(admin, db):
    add_persona(db, "p1")
    sunday_night = this_monday() - timedelta(weeks=1) - timedelta(seconds=1)
    add_rating(db, "p1", "todo", 2, sunday_night)  # the last second of the week two back
    add_rating(db, "p1", "todo", 4, this_monday() - timedelta(weeks=1))  # Monday 00:00, last week
    add_rating(db, "p1", "todo", 5, week(1, hours=100))
    add_rating(db, "p1", "todo", 3, week(0))
    add_rating(db, "p1", "todo", 1, this_monday() - timedelta(weeks=4, seconds=1))  # before the window

    todo = modules_of(admin(weeks=4))["todo"]
    assert [w["weekStart"] for w in todo["weekly"]] == [monday(3), monday(2), monday(1), monday(0)]
    assert all(datetime.fromisoformat(w["weekStart"]).weekday() == 0 for w in todo["weekly"])
    assert todo["weekly"] == [
        {"weekStart": monday(3), "avgRating": None, "count": 0},
        {"weekStart": monday(2), "avgRating": 2.0, "count": 1},
        {"weekStart": monday(1), "avgRating": 4.5, "count": 2},
        {"weekStart": monday(0), "avgRating": 3.0, "count": 1},
    ]
    assert (todo["avgRating"], todo["count"]) == (3.5, 4)


def test_means_are_rounded_to_two_decimals(admin, db):
    add_persona(db, "p1")
    rate(db, "todo", {0: [4, 4, 5]})
    todo = modules_of(admin(weeks=1))["todo"]
    assert todo["avgRating"] == 4.33
    assert todo["weekly"] == [{"weekStart": monday(0), "avgRating": 4.33, "count": 3}]


# The regression rule (by evidence) has its own module: test_regression.py.


# --- the archetype filter ------------------------------------------------------------------


def test_the_archetype_filter_applies_to_modules_stale_and_friction(admin, db):
    old = datetime.now(UTC) - timedelta(days=3)
    add_persona(db, "dev", archetype="solo-dev", created_at=old)
    add_persona(db, "ceo", archetype="ceo-busy", created_at=old)
    add_rating(db, "dev", "todo", 1, week(0), notes="Lost my list.")
    add_rating(db, "ceo", "calendar", 2, week(0), notes="Double booked.")

    body = admin(archetype="ceo-busy").get_json()
    assert [m["module"] for m in body["modules"]] == ["calendar"]
    assert [s["userId"] for s in body["stale"]] == ["ceo"]
    assert [f["notes"] for f in body["friction"]] == ["Double booked."]

    everything = admin(archetype="").get_json()
    assert {m["module"] for m in everything["modules"]} == {"todo", "calendar"}
    assert {s["userId"] for s in everything["stale"]} == {"dev", "ceo"}
    assert admin(archetype="nobody").get_json()["modules"] == []


# --- stale personas ------------------------------------------------------------------------


def test_stale_lists_personas_the_runners_are_not_reaching(admin, db):
    now = datetime.now(UTC)
    add_persona(db, "never-ran-old", created_at=now - timedelta(days=2))
    add_persona(db, "never-ran-new", created_at=now - timedelta(hours=3))
    add_persona(db, "hourly-late", cadence="hourly", last_active=now - timedelta(hours=3))
    add_persona(db, "hourly-fine", cadence="hourly", last_active=now - timedelta(minutes=90))
    add_persona(db, "daily-fine", cadence="daily", last_active=now - timedelta(hours=40))
    add_persona(db, "daily-late", cadence="daily", last_active=now - timedelta(hours=50))
    add_persona(db, "weekdays-weekend", cadence="weekdays", last_active=now - timedelta(hours=80))
    add_persona(db, "weekdays-late", cadence="weekdays", last_active=now - timedelta(days=5))

    stale = {s["userId"]: s for s in admin().get_json()["stale"]}
    assert set(stale) == {"never-ran-old", "hourly-late", "daily-late", "weekdays-late"}
    # Overdue counts from when the next tick was expected (creation, for one that never ran).
    assert stale["hourly-late"]["overdueSeconds"] == pytest.approx(2 * 3600, abs=60)
    assert stale["daily-late"]["overdueSeconds"] == pytest.approx(26 * 3600, abs=60)
    assert stale["never-ran-old"]["overdueSeconds"] == pytest.approx(2 * 86400, abs=60)
    assert stale["never-ran-old"]["lastActiveAt"] is None
    assert set(stale["hourly-late"]) == {"userId", "email", "tickCadence", "lastActiveAt", "overdueSeconds"}
    assert stale["hourly-late"]["email"] == "hourly-late@mana.test"
    overdue = [s["overdueSeconds"] for s in admin().get_json()["stale"]]
    assert overdue == sorted(overdue, reverse=True)


# --- friction notes ------------------------------------------------------------------------


def test_friction_holds_only_low_ratings_with_a_note_newest_first(admin, db):
    add_persona(db, "p1", email="sam@mana.test")
    tick = add_rating(db, "p1", "todo", 1, week(0, hours=3), notes="Cannot undo a delete.")
    add_rating(db, "p1", "todo", 2, week(0, hours=1), notes="Slow to open.")
    add_rating(db, "p1", "todo", 3, week(0, hours=4), notes="Fine, mostly.")
    add_rating(db, "p1", "todo", 1, week(0, hours=5))
    add_rating(db, "p1", "todo", 1, week(0, hours=6), notes="   ")
    add_rating(db, "p1", "todo", 1, week(9), notes="Outside the window.")

    friction = admin().get_json()["friction"]
    assert [f["notes"] for f in friction] == ["Cannot undo a delete.", "Slow to open."]
    first = friction[0]
    assert {k: first[k] for k in ("module", "rating", "email", "userId", "tickId")} == {
        "module": "todo",
        "rating": 1,
        "email": "sam@mana.test",
        "userId": "p1",
        "tickId": tick,
    }
    assert datetime.fromisoformat(first["createdAt"]) == week(0, hours=3)


def test_friction_keeps_the_50_newest(admin, db):
    add_persona(db, "p1")
    for i in range(55):
        add_rating(db, "p1", "todo", 1, week(1, hours=i), notes=f"note {i}")
    friction = admin().get_json()["friction"]
    assert [f["notes"] for f in friction] == [f"note {i}" for i in range(54, 4, -1)]


# --- runs, failing personas, tool health, budget ---------------------------------------------


def test_runs_list_every_day_of_the_window_oldest_first_with_states_tokens_and_cost(admin, db):
    add_persona(db, "p1")
    today = datetime.now(UTC).replace(hour=0, minute=5, second=0, microsecond=0)
    add_tick(
        db,
        "p1",
        "t1",
        state="ok",
        started_at=today,
        input_tokens=100,
        output_tokens=10,
        cost_usd=0.25,
        driver="claude",
    )
    add_tick(db, "p1", "t2", state="failed", started_at=today, cost_usd=0.5, driver="claude")
    add_tick(db, "p1", "t3", state="running", started_at=today, driver="openai")
    add_tick(db, "p1", "t4", state="timeout", started_at=today - timedelta(days=1))
    daily = admin(weeks=2).get_json()["runs"]["daily"]
    days = [d["day"] for d in daily]
    assert days[0] == monday(1)
    assert days[-1] == today.date().isoformat()
    assert days == sorted(days) and len(days) == len(set(days)) == 8 + datetime.now(UTC).weekday()
    assert daily[-1] == {
        "day": today.date().isoformat(),
        "ok": 1,
        "failed": 1,
        "timeout": 0,
        "running": 1,
        "costUsd": 0.75,
        "inputTokens": 100,
        "outputTokens": 10,
        "byDriver": [
            {"driver": "claude", "ticks": 2, "costUsd": 0.75},
            {"driver": "openai", "ticks": 1, "costUsd": 0.0},
        ],
    }
    if len(daily) > 1 and daily[-2]["day"] >= monday(1):
        assert daily[-2]["timeout"] == 1


def test_failing_lists_personas_whose_last_three_finished_ticks_failed(admin, db):
    start = datetime.now(UTC) - timedelta(hours=10)
    for pid in ("failing", "recovered", "two-only"):
        add_persona(db, pid)
    for i, state in enumerate(["ok", "failed", "timeout", "failed", "running"]):
        add_tick(
            db, "failing", f"f{i}", state=state, started_at=start + timedelta(hours=i), error=f"boom {i}"
        )
    for i, state in enumerate(["failed", "failed", "failed", "ok"]):
        add_tick(db, "recovered", f"r{i}", state=state, started_at=start + timedelta(hours=i))
    for i, state in enumerate(["ok", "failed", "failed"]):
        add_tick(db, "two-only", f"t{i}", state=state, started_at=start + timedelta(hours=i))
    failing = admin().get_json()["runs"]["failing"]
    assert [f["userId"] for f in failing] == ["failing"]
    assert failing[0]["failedTicks"] == 3
    assert failing[0]["lastStep"] == "driver"
    assert failing[0]["lastError"] == "boom 3"
    assert failing[0]["lastTickId"] == "f3"
    assert failing[0]["email"] == "failing@mana.test"


def test_tools_list_every_tool_called_worst_error_rate_first_with_an_approximate_p95(admin, db):
    add_persona(db, "p1")
    now = datetime.now(UTC)
    for i in range(100):
        add_action(db, "p1", now - timedelta(minutes=i), tool="todo.create", latency_ms=10 * (i + 1))
    for i in range(4):
        add_action(db, "p1", now, tool="calendar.list", error="boom" if i == 0 else None, latency_ms=5)
    add_action(db, "p1", week(20), tool="notes", error="old")  # outside the window
    tools = admin(weeks=2).get_json()["tools"]
    assert [t["tool"] for t in tools] == ["calendar.list", "todo.create"]
    calendar, todo = tools
    assert (calendar["module"], calendar["calls"], calendar["errors"], calendar["errorRate"]) == (
        "calendar",
        4,
        1,
        0.25,
    )
    # The true p95 of 10, 20, ..., 1000 ms is 950 ms: reported within 20% above it.
    assert 950 <= todo["p95LatencyMs"] <= 950 * 1.2
    assert [w["weekStart"] for w in todo["weekly"]] == [monday(1), monday(0)]
    assert sum(w["calls"] for w in todo["weekly"]) == 100


def test_budget_is_answered_only_when_one_is_set(admin, db, config, devauth):
    add_persona(db, "p1")
    add_tick(db, "p1", "t1", state="ok", cost_usd=1.5)
    assert "budget" not in admin().get_json()
    with running_app(replace(config, fleet_daily_budget_usd=4.0)) as app:
        headers = {"Authorization": f"Bearer {mint_token(devauth, role='admin')}"}
        body = app.test_client().get(URL, headers=headers).get_json()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert body["budget"]["limitUsd"] == 4.0
    assert body["budget"]["spentUsd"] == 1.5
    assert body["budget"]["resetsAt"].startswith(tomorrow)


# --- the space filter -------------------------------------------------------------------------


def tick_in(db, persona: str, space: str | None, when: datetime) -> str:
    """One finished tick of `persona` in `space` (None: no space recorded)."""
    return add_tick(db, persona, f"{persona}-{space}-{when.timestamp()}", started_at=when, space_id=space)


def spaces_fixture(db) -> None:
    """p1 and p2 share `fam`; p1 also ticks alone in `p1-home`; p3 ticks with no space."""
    for persona in ("p1", "p2", "p3"):
        add_persona(db, persona)
    now = datetime.now(UTC) - timedelta(minutes=5)
    shared = [tick_in(db, "p1", "fam", now), tick_in(db, "p2", "fam", now - timedelta(minutes=1))]
    home = tick_in(db, "p1", "p1-home", now - timedelta(minutes=2))
    nowhere = tick_in(db, "p3", None, now - timedelta(minutes=3))
    for persona, tick in zip(("p1", "p2"), shared, strict=True):
        add_rating(db, persona, "notes", 2, now, tick_id=tick)
        add_action(db, persona, now, tool="notes.create", error="boom", tick_id=tick)
    add_rating(db, "p1", "notes", 4, now, tick_id=home)
    add_action(db, "p1", now, tool="notes.create", tick_id=home)
    add_rating(db, "p3", "todo", 5, now, tick_id=nowhere)
    add_action(db, "p3", now, tool="todo.create", tick_id=nowhere)


def plain_counts(db, table: str, column: str, shared: bool) -> dict[str, int]:
    """Rows of `table` per `column`, of ticks whose space another persona ticked in (or not),
    counted the plain way."""
    rows = db.execute(
        f"SELECT x.{column}, count(*) FROM personas.{table} x"
        " JOIN personas.persona_ticks t ON t.persona_id = x.persona_id AND t.tick_id = x.tick_id"
        " WHERE (t.space_id IS NOT NULL AND EXISTS (SELECT 1 FROM personas.persona_ticks o"
        "        WHERE o.space_id = t.space_id AND o.persona_id <> t.persona_id)) = %s"
        f" GROUP BY x.{column}",
        (shared,),
    ).fetchall()
    return dict(rows)


@pytest.mark.parametrize("space", ["shared", "personal"])
def test_the_space_filter_counts_the_ratings_and_tool_calls_of_those_ticks_only(admin, db, space):
    spaces_fixture(db)
    body = admin(space=space).get_json()
    assert body["space"] == space
    modules = {m["module"]: m["count"] for m in body["modules"]}
    tools = {t["tool"]: (t["calls"], t["errors"]) for t in body["tools"]}
    assert modules == plain_counts(db, "persona_feedback", "module", space == "shared")
    assert {tool: calls for tool, (calls, _) in tools.items()} == plain_counts(
        db, "persona_actions", "tool_name", space == "shared"
    )
    if space == "shared":
        assert modules == {"notes": 2}
        assert body["modules"][0]["avgRating"] == 2.0
        assert tools == {"notes.create": (2, 2)}
    else:
        assert modules == {"notes": 1, "todo": 1}
        assert tools == {"notes.create": (1, 0), "todo.create": (1, 0)}


def test_without_a_space_or_with_all_the_answer_is_the_rollups_unchanged(admin, db):
    spaces_fixture(db)
    default, every = admin().get_json(), admin(space="all").get_json()
    assert default["space"] == every["space"] == "all"
    for body in (default, every):
        assert {m["module"]: m["count"] for m in body["modules"]} == {"notes": 3, "todo": 1}
        assert {t["tool"]: t["calls"] for t in body["tools"]} == {"notes.create": 3, "todo.create": 1}
    assert default["modules"] == every["modules"] and default["tools"] == every["tools"]


def test_the_space_filter_keeps_the_weekly_shape_and_the_archetype_filter(admin, db):
    spaces_fixture(db)
    db.execute("UPDATE personas.persona_feedback SET archetype = 'family' WHERE persona_id = 'p2'")
    body = admin(space="shared", archetype="family", weeks=3).get_json()
    (notes,) = body["modules"]
    assert notes["count"] == 1
    assert [w["weekStart"] for w in notes["weekly"]] == [monday(2), monday(1), monday(0)]
    (tool,) = body["tools"]
    assert [w["weekStart"] for w in tool["weekly"]] == [monday(2), monday(1), monday(0)]


@pytest.mark.parametrize("space", ["Shared", "both", "", "x" * 300])
def test_a_space_other_than_shared_personal_or_all_is_400_naming_space(admin, space):
    assert_refused_naming(admin(space=space), "space")


@pytest.mark.parametrize("name", ["module_trends", "tool_health"])
def test_the_filtered_reads_join_by_the_tick_key_and_probe_the_space_index(db, name):
    """Filtered, each rating or call of the window reaches its tick by key and the space
    rule probes the space index: no read of the ticks table whole. (Sequential scans are
    off so that a tiny table shows the plan a large one gets.)"""
    spaces_fixture(db)
    db.execute("SET enable_seqscan = off")
    params = {"now": datetime.now(UTC), "weeks": 8, "archetype": None, "space": "shared"}
    query = getattr(queries.insights, name)
    plan = "\n".join(row[0] for row in db.execute("EXPLAIN " + query.sql, params).fetchall())
    assert "Seq Scan" not in plan
    assert "Index Scan using persona_ticks_" in plan or "Index Only Scan using persona_ticks_" in plan
    # The space rule's own probe (sql/functions/spaces.sql) is one range of the space index.
    probe = db.execute(
        "EXPLAIN SELECT 1 FROM personas.persona_ticks o WHERE o.space_id = 'fam' AND o.persona_id <> 'p1'"
    ).fetchall()
    assert "persona_ticks_space_idx" in "\n".join(row[0] for row in probe)


def test_a_run_of_failures_older_than_the_window_is_not_listed(admin, db):
    """A persona counts as failing in the weeks shown when its newest finished tick, a
    failure, started in them; a later running tick changes nothing."""
    for pid in ("lately", "long-ago"):
        add_persona(db, pid)
    for i in range(3):
        add_tick(db, "lately", f"l{i}", state="failed", started_at=this_monday() + timedelta(seconds=i))
        add_tick(db, "long-ago", f"a{i}", state="timeout", started_at=week(3, hours=i))
    add_tick(db, "long-ago", "now", state="running", started_at=datetime.now(UTC))
    assert [f["userId"] for f in admin(weeks=1).get_json()["runs"]["failing"]] == ["lately"]
    assert [f["userId"] for f in admin(weeks=4).get_json()["runs"]["failing"]] == ["lately", "long-ago"]


def plan_of(db, name: str, weeks: int) -> str:
    params = {"now": datetime.now(UTC), "weeks": weeks, "archetype": None, "space": None}
    params.update(streak=20, limit=200)
    query = getattr(queries.insights, name)
    return "\n".join(row[0] for row in db.execute("EXPLAIN " + query.sql, params).fetchall())


def test_a_years_tool_health_reads_past_weeks_from_the_weekly_rollup(db):
    """Unfiltered, a window's past weeks are whole rows of the weekly rollup and only the
    current week is read by day, so a year costs about what eight weeks do."""
    plan = plan_of(db, "tool_health", 52)
    assert "tool_calls_weekly" in plan
    assert "Scan on persona_actions" not in plan  # the space filter's branch is planned away


def test_the_failing_personas_are_found_per_persona_not_from_the_windows_failures(db):
    """The candidates are each persona's newest finished tick (the recent index), not a
    scan of every tick or failure started in the window, which grows with the weeks."""
    db.execute("SET enable_seqscan = off")
    plan = plan_of(db, "failing_personas", 52)
    assert "persona_ticks_recent_idx" in plan
    assert "persona_ticks_started_idx" not in plan
    assert "failures_idx" not in plan
