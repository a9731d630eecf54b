"""Ticks are records: PUT /internal/<id>/ticks/<tickId>, as the contract promises it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.conftest import SERVICE_KEY
from tests.service.factories import add_persona
from tests.support.retention import pruned

BASE = "/api/v1/personas/internal"


def put_tick(client, headers, body: dict, persona: str = "p1", tick: str = "tick-1"):
    return client.put(f"{BASE}/{persona}/ticks/{tick}", json=body, headers=headers)


def tick_row(db, persona: str = "p1", tick: str = "tick-1") -> dict | None:
    cur = db.execute(
        "SELECT state, step, error, runner_id, started_at, finished_at, cost_usd::float8, input_tokens"
        " FROM personas.persona_ticks WHERE persona_id = %s AND tick_id = %s",
        (persona, tick),
    )
    row = cur.fetchone()
    return None if row is None else dict(zip([c.name for c in cur.description], row, strict=True))


def persona_state(db, persona: str = "p1") -> tuple:
    return db.execute(
        "SELECT last_active_at, run_requested_at FROM personas.personas WHERE user_id = %s", (persona,)
    ).fetchone()


RUNNING = {"runnerId": "runner-a", "state": "running", "driver": "scripted", "spaceId": "space-1"}
FINISHED = {
    "runnerId": "runner-a",
    "state": "ok",
    "model": "claude-test",
    "usage": {"inputTokens": 1200, "outputTokens": 300, "cacheReadTokens": 50, "cacheWriteTokens": 7},
    "costUsd": 0.0123,
}


def test_running_creates_the_tick_and_repeating_it_changes_nothing(client, db, internal_headers):
    add_persona(db, "p1")
    first = put_tick(client, internal_headers, RUNNING)
    assert first.status_code == 200, first.get_data(as_text=True)
    tick = first.get_json()["tick"]
    assert tick["tickId"] == "tick-1"
    assert tick["state"] == "running"
    assert tick["finishedAt"] is None
    assert tick["driver"] == "scripted" and tick["spaceId"] == "space-1"
    assert (tick["toolCalls"], tick["toolErrors"], tick["costUsd"]) == (0, 0, 0)
    assert abs(datetime.fromisoformat(tick["startedAt"]) - datetime.now(UTC)) < timedelta(seconds=30)
    again = put_tick(client, internal_headers, RUNNING)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    # A start is not activity: the persona stays as due as it was.
    assert persona_state(db) == (None, None)


def test_the_end_sets_finished_at_once_and_counts_the_ticks_actions(client, db, internal_headers):
    add_persona(db, "p1")
    put_tick(client, internal_headers, RUNNING)
    actions = [
        {"tickId": "tick-1", "toolName": "todo.create", "result": "ok"},
        {"tickId": "tick-1", "toolName": "todo.list", "result": "error", "errorMessage": "boom"},
        {"tickId": "tick-1", "toolName": "calendar.add", "result": "ok"},
    ]
    other = [{"tickId": "tick-2", "toolName": "todo.create", "result": "error"}]
    for batch in (actions, other):
        posted = client.post(f"{BASE}/p1/actions", json={"actions": batch}, headers=internal_headers)
        assert posted.status_code == 200
    done = put_tick(client, internal_headers, FINISHED)
    assert done.status_code == 200, done.get_data(as_text=True)
    tick = done.get_json()["tick"]
    assert tick["state"] == "ok"
    assert (tick["toolCalls"], tick["toolErrors"]) == (3, 1)
    assert tick["costUsd"] == pytest.approx(0.0123)
    assert (tick["inputTokens"], tick["outputTokens"]) == (1200, 300)
    assert (tick["cacheReadTokens"], tick["cacheWriteTokens"]) == (50, 7)
    # What the start said and the end left out is kept.
    assert (tick["driver"], tick["model"], tick["spaceId"]) == ("scripted", "claude-test", "space-1")
    assert datetime.fromisoformat(tick["finishedAt"]) >= datetime.fromisoformat(tick["startedAt"])
    stored = tick_row(db)
    repeat = put_tick(client, internal_headers, FINISHED)
    assert repeat.status_code == 200
    assert repeat.get_json() == done.get_json()
    assert tick_row(db) == stored


def test_a_final_state_for_an_unreported_tick_creates_it_finished(client, db, internal_headers):
    add_persona(db, "p1")
    body = {"runnerId": "runner-a", "state": "failed", "step": "login", "error": "401 from mana-auth"}
    response = put_tick(client, internal_headers, body)
    assert response.status_code == 200
    tick = response.get_json()["tick"]
    assert (tick["state"], tick["step"], tick["error"]) == ("failed", "login", "401 from mana-auth")
    assert tick["finishedAt"] is not None
    assert tick["startedAt"] <= tick["finishedAt"]


def test_a_tick_whose_lease_was_lost_fails_at_step_lease(client, db, internal_headers):
    add_persona(db, "p1")
    body = {"runnerId": "runner-a", "state": "failed", "step": "lease", "error": "409 lease held by runner-b"}
    response = put_tick(client, internal_headers, body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["tick"]["step"] == "lease"
    assert tick_row(db)["step"] == "lease"


@pytest.mark.parametrize(
    "second",
    [
        {"runnerId": "runner-a", "state": "failed", "step": "driver"},
        {"runnerId": "runner-a", "state": "timeout", "step": "timeout"},
        {**FINISHED, "costUsd": 0.5},
        {**FINISHED, "runnerId": "runner-b"},
    ],
    ids=["failed", "timeout", "other-cost", "other-runner"],
)
def test_a_finished_tick_never_changes(client, db, internal_headers, second):
    add_persona(db, "p1")
    assert put_tick(client, internal_headers, FINISHED).status_code == 200
    stored = tick_row(db)
    response = put_tick(client, internal_headers, second)
    assert response.status_code == 409
    assert response.get_json()["error"] == "Conflict"
    assert response.get_json()["state"] == "ok"
    assert tick_row(db) == stored


def test_running_after_the_end_changes_nothing(client, db, internal_headers):
    add_persona(db, "p1")
    done = put_tick(client, internal_headers, FINISHED).get_json()
    late = put_tick(client, internal_headers, RUNNING)
    assert late.status_code == 200
    assert late.get_json() == done


def test_the_end_is_the_personas_activity_and_answers_run_now(client, db, internal_headers):
    add_persona(db, "p1", last_active=datetime.now(UTC) - timedelta(days=3))
    db.execute("UPDATE personas.personas SET run_requested_at = now() WHERE user_id = 'p1'")
    put_tick(client, internal_headers, RUNNING)
    assert persona_state(db)[1] is not None
    body = {"runnerId": "runner-a", "state": "failed", "step": "driver", "error": "model overloaded"}
    assert put_tick(client, internal_headers, body).status_code == 200
    last_active, run_requested = persona_state(db)
    assert run_requested is None
    assert datetime.now(UTC) - last_active < timedelta(seconds=30)
    due = client.get(f"{BASE}/due", headers=internal_headers).get_json()["personas"]
    assert due == []


def test_an_unknown_persona_is_404_and_writes_nothing(client, db, internal_headers):
    response = put_tick(client, internal_headers, FINISHED, persona="nobody")
    assert response.status_code == 404
    assert db.execute("SELECT count(*) FROM personas.persona_ticks").fetchone()[0] == 0


LONG = "x" * 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "ok"}, "runnerId"),
        ({"runnerId": "", "state": "ok"}, "runnerId"),
        ({"runnerId": LONG, "state": "ok"}, "runnerId"),
        ({"runnerId": "r"}, "state"),
        ({"runnerId": "r", "state": "done"}, "state"),
        ({"runnerId": "r", "state": "failed"}, "step"),
        ({"runnerId": "r", "state": "timeout"}, "step"),
        ({"runnerId": "r", "state": "failed", "step": "lunch"}, "step"),
        ({"runnerId": "r", "state": "ok", "error": "e" * 2001}, "error"),
        ({"runnerId": "r", "state": "ok", "error": "a\x00b"}, "error"),
        ({"runnerId": "r", "state": "ok", "driver": "d" * 101}, "driver"),
        ({"runnerId": "r", "state": "ok", "model": "m" * 201}, "model"),
        ({"runnerId": "r", "state": "ok", "spaceId": LONG}, "spaceId"),
        ({"runnerId": "r", "state": "ok", "usage": {"inputTokens": -1}}, "usage.inputTokens"),
        ({"runnerId": "r", "state": "ok", "usage": {"outputTokens": 1.5}}, "usage.outputTokens"),
        ({"runnerId": "r", "state": "ok", "usage": {"cacheReadTokens": "3"}}, "usage.cacheReadTokens"),
        ({"runnerId": "r", "state": "ok", "usage": {"cacheWriteTokens": True}}, "usage.cacheWriteTokens"),
        ({"runnerId": "r", "state": "ok", "usage": [1]}, "usage"),
        ({"runnerId": "r", "state": "ok", "costUsd": -0.01}, "costUsd"),
        ({"runnerId": "r", "state": "ok", "costUsd": "0.1"}, "costUsd"),
        ({"runnerId": "r", "state": "ok", "costUsd": 1e300}, "costUsd"),
        (["runner"], "body"),
    ],
)
def test_bad_reports_are_400_naming_the_field_and_write_nothing(client, db, internal_headers, body, field):
    add_persona(db, "p1")
    response = put_tick(client, internal_headers, body)
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["error"] == "ValidationError"
    assert payload["details"][0]["field"] == field
    assert tick_row(db) is None
    assert persona_state(db) == (None, None)


@pytest.mark.parametrize(("tick", "status"), [("t" * 200, 200), ("t" * 201, 400), ("a%00b", 400)])
def test_tick_ids_have_the_caps_of_action_tick_ids(client, db, internal_headers, tick, status):
    add_persona(db, "p1")
    response = put_tick(client, internal_headers, FINISHED, tick=tick)
    assert response.status_code == status
    if status == 400:
        assert response.get_json()["details"][0]["field"] == "tickId"


def test_ticks_sit_behind_the_service_key(client, db):
    add_persona(db, "p1")
    assert put_tick(client, {"X-Service-Key": "wrong"}, FINISHED).status_code == 401
    assert tick_row(db) is None


def test_concurrent_ends_of_one_tick_agree_on_one_outcome(live_api, db):
    """Real threads against gunicorn: of two racing, different ends, one wins (200), the
    other is refused (409); identical retries racing all succeed with one answer."""
    add_persona(db, "p1")
    url = f"{live_api.url}{BASE}/p1/ticks"
    ok = {"runnerId": "runner-a", "state": "ok", "costUsd": 0.01}
    failed = {"runnerId": "runner-a", "state": "failed", "step": "driver"}
    session = requests.Session()
    session.headers["X-Service-Key"] = SERVICE_KEY

    def put(tick: str, body: dict, barrier: threading.Barrier) -> requests.Response:
        barrier.wait()
        return session.put(f"{url}/{tick}", json=body, timeout=30)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for n in range(25):
            tick = f"race-{n}"
            if n % 2:
                assert session.put(f"{url}/{tick}", json={**ok, "state": "running"}, timeout=30).ok
            barrier = threading.Barrier(4)
            bodies = [ok, failed, ok, failed]
            answers = list(pool.map(lambda b, t=tick, br=barrier: put(t, b, br), bodies))
            winners = {a.json()["tick"]["state"] for a in answers if a.status_code == 200}
            assert len(winners) == 1, [a.text for a in answers]
            assert sorted(a.status_code for a in answers) == [200, 200, 409, 409]
            stored = tick_row(db, tick=tick)
            assert stored["state"] == winners.pop()
        retries = list(pool.map(lambda _: session.put(f"{url}/retried", json=ok, timeout=30), range(8)))
        assert {r.status_code for r in retries} == {200}
        assert len({r.text for r in retries}) == 1


# --- abandoned ticks: closed once their lease lapsed unreported -------------------------


def running_under_a_lapsed_lease(client, db, headers, persona: str = "p1") -> None:
    """`persona` claimed by runner-a, its tick reported running, then the lease run out
    (the runner stopped: no heartbeat, no final report)."""
    add_persona(db, persona)
    claimed = client.post(f"{BASE}/claims", json={"runnerId": "runner-a", "leaseSeconds": 5}, headers=headers)
    assert persona in [p["userId"] for p in claimed.get_json()["personas"]]
    assert put_tick(client, headers, RUNNING, persona).status_code == 200
    db.execute(
        "UPDATE personas.personas SET lease_until = now() - interval '1 second' WHERE user_id = %s",
        (persona,),
    )


def runs_today(db) -> tuple[int, float]:
    """Today's (UTC) row of the daily runs rollup: the ticks running and what ticks cost."""
    row = db.execute(
        "SELECT running, cost_usd::float8 FROM personas.tick_runs_daily"
        " WHERE day = (now() AT TIME ZONE 'UTC')::date"
    ).fetchone()
    return row or (0, 0.0)


def running_count_today(db) -> int:
    return runs_today(db)[0]


def test_the_next_claim_closes_a_tick_whose_lease_lapsed_as_abandoned(client, db, internal_headers):
    running_under_a_lapsed_lease(client, db, internal_headers)
    assert running_count_today(db) == 1
    before = datetime.now(UTC)
    claimed = client.post(f"{BASE}/claims", json={"runnerId": "runner-b"}, headers=internal_headers)
    tick = tick_row(db)
    assert (tick["state"], tick["step"]) == ("timeout", "abandoned")
    assert tick["finished_at"] is not None and tick["error"]
    # It counts as the persona's activity (a daily persona is not due again today) ...
    assert claimed.get_json()["personas"] == []
    assert persona_state(db)[0] >= before - timedelta(seconds=5)
    # ... and is no longer counted as running.
    assert running_count_today(db) == 0


def test_a_late_final_report_of_its_own_runner_replaces_abandoned(client, db, internal_headers):
    """Closing as abandoned is provisional: the runner's real end, cost included, replaces
    it; a report from any other runner, or of any other finished tick, is still 409."""
    running_under_a_lapsed_lease(client, db, internal_headers)
    client.post(f"{BASE}/claims", json={"runnerId": "runner-b"}, headers=internal_headers)
    assert tick_row(db)["step"] == "abandoned"
    other = put_tick(client, internal_headers, {**FINISHED, "runnerId": "runner-b", "state": "ok"})
    assert other.status_code == 409
    late = put_tick(client, internal_headers, {**FINISHED, "state": "ok", "costUsd": 0.25})
    assert late.status_code == 200, late.get_json()
    assert (late.get_json()["tick"]["state"], late.get_json()["tick"]["step"]) == ("ok", None)
    assert runs_today(db)[1] == pytest.approx(0.25)
    assert put_tick(client, internal_headers, {**FINISHED, "state": "ok", "costUsd": 0.25}).status_code == 200
    changed = put_tick(client, internal_headers, {**FINISHED, "state": "failed", "step": "driver"})
    assert changed.status_code == 409


def test_a_tick_under_a_live_or_released_lease_stays_running(client, db, internal_headers):
    add_persona(db, "p1")
    add_persona(db, "p2")
    client.post(
        f"{BASE}/claims", json={"runnerId": "runner-a", "leaseSeconds": 600}, headers=internal_headers
    )
    assert put_tick(client, internal_headers, RUNNING, "p1").status_code == 200
    # p2's runner posted its ratings (ending its lease) and reports the end a moment later.
    assert put_tick(client, internal_headers, RUNNING, "p2").status_code == 200
    rating = {"feedback": [{"tickId": "tick-1", "module": "todo", "rating": 4}], "runnerId": "runner-a"}
    assert client.post(f"{BASE}/p2/feedback", json=rating, headers=internal_headers).status_code == 200
    client.post(f"{BASE}/claims", json={"runnerId": "runner-b"}, headers=internal_headers)
    assert tick_row(db, "p1")["state"] == "running"
    assert tick_row(db, "p2")["state"] == "running"


def running_since(db, persona: str, tick: str, runner: str, hours: float) -> None:
    db.execute(
        "INSERT INTO personas.persona_ticks (persona_id, tick_id, runner_id, state, started_at)"
        " VALUES (%s, %s, %s, 'running', now() - %s * interval '1 hour')",
        (persona, tick, runner, hours),
    )


def test_a_tick_running_for_over_an_hour_with_no_live_lease_of_its_runner_is_closed(
    client, db, internal_headers
):
    """Its runner ended the lease with its ratings and died before the final report (or
    ticked from /due with no lease at all): no lease is left to lapse, so its age decides."""
    for persona in ("p1", "p2", "p3"):
        add_persona(db, persona)
    running_since(db, "p1", "stale", "runner-a", hours=1.5)
    running_since(db, "p2", "young", "runner-a", hours=0.5)
    running_since(db, "p3", "leased", "runner-a", hours=1.5)
    db.execute(
        "UPDATE personas.personas SET lease_runner = 'runner-a', lease_until = now() + interval '10 minutes'"
        " WHERE user_id = 'p3'"
    )
    client.post(f"{BASE}/claims", json={"runnerId": "runner-b"}, headers=internal_headers)
    stale = tick_row(db, "p1", "stale")
    assert (stale["state"], stale["step"]) == ("timeout", "abandoned") and stale["finished_at"]
    assert tick_row(db, "p2", "young")["state"] == "running"
    assert tick_row(db, "p3", "leased")["state"] == "running"
    # Its runner's late report still replaces the closing.
    late = put_tick(client, internal_headers, {**FINISHED, "state": "ok"}, "p1", "stale")
    assert late.status_code == 200 and late.get_json()["tick"]["state"] == "ok"


def test_prune_closes_stale_running_ticks(db, database_url):
    add_persona(db, "p1")
    running_since(db, "p1", "stale", "runner-a", hours=2)
    run = pruned(database_url)
    assert "closed 1 stale running ticks" in run.stdout
    assert tick_row(db, "p1", "stale")["step"] == "abandoned"


def test_prune_closes_abandoned_ticks_too(client, db, internal_headers, database_url):
    running_under_a_lapsed_lease(client, db, internal_headers)
    run = pruned(database_url)
    assert "ended 1 lapsed leases" in run.stdout
    tick = tick_row(db)
    assert (tick["state"], tick["step"]) == ("timeout", "abandoned")
    assert running_count_today(db) == 0


def test_abandoned_is_the_services_step_never_a_runners(client, db, internal_headers):
    add_persona(db, "p1")
    body = {"runnerId": "runner-a", "state": "timeout", "step": "abandoned"}
    refused = put_tick(client, internal_headers, body)
    assert refused.status_code == 400
    assert [d["field"] for d in refused.get_json()["details"]] == ["step"]
    assert tick_row(db) is None


# --- totals never overflow ---------------------------------------------------------------


@pytest.mark.parametrize("field", ["inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens"])
@pytest.mark.parametrize("value", [10**9 + 1, 2**62])
def test_a_usage_field_above_a_billion_is_refused_by_name(client, db, internal_headers, field, value):
    add_persona(db, "p1")
    response = put_tick(client, internal_headers, {**FINISHED, "usage": {field: value}})
    assert response.status_code == 400
    assert [d["field"] for d in response.get_json()["details"]] == [f"usage.{field}"]
    assert tick_row(db) is None


def test_many_maximal_reports_on_one_day_are_all_recorded(client, db, internal_headers):
    add_persona(db, "p1")
    most = {k: 10**9 for k in ("inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens")}
    for i in range(40):
        body = {**FINISHED, "usage": most, "costUsd": 1_000_000.0}
        response = put_tick(client, internal_headers, body, tick=f"t{i}")
        assert response.status_code == 200, response.get_data(as_text=True)
    day = db.execute(
        "SELECT ticks, input_tokens, output_tokens, cost_usd::float8 FROM personas.tick_runs_daily"
        " WHERE day = (now() AT TIME ZONE 'UTC')::date"
    ).fetchone()
    assert day == (40, 40 * 10**9, 40 * 10**9, 40_000_000.0)
