"""`python -m persona_runner serve` against real processes: the live API under gunicorn,
the mana-auth stand-in, devmcp (the product) and devllm (the model), the runner itself a
subprocess. What it records is checked against what devmcp says it served."""

from __future__ import annotations

import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import requests

from devstack.postgres import free_port
from devstack.processes import Process, gunicorn_cmd
from persona_runner.claude import STOPPED
from persona_runner.unposted import records as unposted_records
from tests.conftest import SERVICE_KEY
from tests.devmcp_fixtures import devmcp_env
from tests.runner import service_stack
from tests.runner.service_stack import (
    ARTIFACTS,
    TIMEOUT,
    action_rows,
    add_persona,
    fault,
    finished,
    leased,
    metric,
    personal_space,
    running,
    served_calls,
    share_space,
    start_runner,
    ticks_of,
    wait_for,
)
from tests.support.commands import run_python


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def feedback_of(db, persona_id: str) -> list[tuple]:
    return db.execute(
        "SELECT tick_id, module, rating, notes FROM personas.persona_feedback WHERE persona_id = %s",
        (persona_id,),
    ).fetchall()


@pytest.fixture
def stack(db, live_api, devauth, clean_devmcp, clean_devllm, admin_token):
    """Everything the runner talks to, with empty persona tables and no faults."""
    return {"db": db, "api": live_api, "auth": devauth, "mcp": clean_devmcp, "llm": clean_devllm}


def runner(stack, name: str, **env: str) -> Process:
    return start_runner(name, stack["api"], stack["auth"], stack["mcp"], stack["llm"], **env)


def stalled_runner(stack, admin_token, name: str, delay_ms: int, **env: str) -> tuple:
    """Persona `name`, then its runner `runner-<name>` with every model call stalling
    `delay_ms` first: (the persona, when the runner started, the runner)."""
    persona = add_persona(stack["api"], admin_token, name)
    fault(stack["llm"], delayMs=delay_ms, times=50)
    since = now_iso()
    return persona, since, runner(stack, f"runner-{name}", **env)


def test_every_tick_is_recorded_and_every_action_is_a_call_devmcp_served(stack, admin_token):
    db, api, devauth, devmcp = stack["db"], stack["api"], stack["auth"], stack["mcp"]
    kate, walter = add_persona(api, admin_token, "kate"), add_persona(api, admin_token, "walter")
    solo = add_persona(api, admin_token, "solo")
    family = share_space(devauth, kate, walter)
    personas = [kate, walter, solo]
    fault(devmcp, tool="todo.*")
    since = now_iso()
    service = runner(stack, "runner-e2e")
    try:
        wait_for("a tick of every persona", lambda: finished(db, personas))
        assert action_rows(db, personas) == served_calls(devmcp, since, personas)
        for persona in personas:
            [tick] = ticks_of(db, persona.id)
            assert (tick["state"], tick["driver"], tick["model"]) == ("ok", "claude", "claude-dev")
            assert tick["runner_id"] == "runner-e2e" and tick["actions"] >= 3
            # Cached prompts: what is not read from the cache is written to it, not plain input.
            assert tick["cache_read_tokens"] > 0 and tick["cache_write_tokens"] + tick["input_tokens"] > 0
            assert tick["output_tokens"] > 0 and tick["cost_usd"] > 0
            ratings = {module: (rating, notes) for _, module, rating, notes in feedback_of(db, persona.id)}
            others = [rating for module, (rating, _) in ratings.items() if module != "todo"]
            assert others and ratings["todo"][0] < min(others)
            assert "todo." in ratings["todo"][1]
        # The pair's first tick is in their shared space; the solo persona's in its own.
        assert [ticks_of(db, p.id)[0]["space_id"] for p in personas] == [
            family,
            family,
            personal_space(devauth, solo),
        ]
        assert leased(db) == []

        health = requests.get(f"{service.url}/health", timeout=TIMEOUT).json()
        assert health == {
            "status": "ok",
            "runnerId": "runner-e2e",
            "driver": "claude",
            "paused": False,
            "concurrency": 2,
            "inflight": 0,
            "lastTickAt": health["lastTickAt"],
        }
        assert health["lastTickAt"]
        metrics = requests.get(f"{service.url}/metrics", timeout=TIMEOUT).text
        assert metric(metrics, 'persona_ticks_total{outcome="ok"}') == 3
        todo_errors = sum(1 for row in action_rows(db, personas) if row[0].startswith("todo.") and row[3])
        assert metric(metrics, 'persona_tool_calls_total{module="todo",result="error"}') == todo_errors
        tokens = sum(t["input_tokens"] for p in personas for t in ticks_of(db, p.id))
        assert metric(metrics, 'persona_llm_tokens_total{kind="input"}') == tokens
        assert metric(metrics, "persona_runner_inflight") == 0
        assert metric(metrics, "persona_tick_duration_seconds_count") == 3
        assert metric(metrics, "persona_transcripts_unsent_total") == 0

        # Asked to run again, the pair alternates to their personal spaces.
        for persona in (kate, walter):
            requests.post(
                f"{api.url}/api/v1/personas/admin/{persona.id}/run-now",
                headers={"Authorization": f"Bearer {admin_token}"},
                timeout=TIMEOUT,
            ).raise_for_status()
        wait_for("a second tick of the pair", lambda: finished(db, [kate, walter], count=2))
        for persona in (kate, walter):
            assert ticks_of(db, persona.id)[1]["space_id"] == personal_space(devauth, persona)
    finally:
        service.stop()
    assert service.proc.returncode == 0


def test_model_overloaded_then_recovering_the_tick_succeeds_and_tokens_count_once(stack, admin_token):
    db, api = stack["db"], stack["api"]
    first, second = add_persona(api, admin_token, "ada"), add_persona(api, admin_token, "ada")
    fault(stack["llm"], status=529, times=2)
    service = runner(stack, "runner-529", PERSONA_CONCURRENCY="1")
    try:
        wait_for("both ticks", lambda: finished(db, [first, second]))
        metrics = requests.get(f"{service.url}/metrics", timeout=TIMEOUT).text
    finally:
        service.stop()
    ticks = [ticks_of(db, p.id)[0] for p in (first, second)]
    assert [t["state"] for t in ticks] == ["ok", "ok"]
    # The same persona twice, one of them through two 529s: no request counted twice.
    assert abs(ticks[0]["input_tokens"] - ticks[1]["input_tokens"]) <= 40
    assert metric(metrics, 'persona_llm_tokens_total{kind="input"}') == sum(t["input_tokens"] for t in ticks)


def test_one_worker_drives_tick_after_tick_on_kept_clients_and_closes_them_cleanly(stack, admin_token):
    """PERSONA_CONCURRENCY=1: one worker, its model client and connections kept from tick to
    tick, closed inside its own event loop when the runner stops: nothing in its log about
    an unclosed client, a closed loop or a task left pending."""
    db, api = stack["db"], stack["api"]
    personas = [add_persona(api, admin_token, name) for name in ("kate", "noah", "ada")]
    log = ARTIFACTS / "runner-one-worker.log"
    start = log.stat().st_size if log.exists() else 0
    service = runner(stack, "runner-one-worker", PERSONA_CONCURRENCY="1")
    try:
        wait_for("a tick of every persona", lambda: finished(db, personas))
    finally:
        service.stop()
    assert service.proc.returncode == 0
    assert [ticks_of(db, p.id)[0]["state"] for p in personas] == ["ok", "ok", "ok"]
    with open(log, "rb") as lines:
        lines.seek(start)
        said = lines.read().decode()
    for sign in ("Unclosed", "Event loop is closed", "was destroyed but it is pending", "Traceback"):
        assert sign not in said, said


def test_a_model_stalling_past_the_tick_timeout_ends_it_with_its_actions_posted(stack, admin_token):
    db, devmcp = stack["db"], stack["mcp"]
    slow, since, service = stalled_runner(stack, admin_token, "slow", 1500, RUNNER_TICK_TIMEOUT_S="4")
    try:
        wait_for("the tick to end", lambda: finished(db, [slow]))
        # The runner reports the end, then releases: a few seconds, never the lease's 600 s.
        wait_for("the lease to be released", lambda: lease_of(db, slow.id) == (None, None), 5)
    finally:
        service.stop()
    [tick] = ticks_of(db, slow.id)
    assert (tick["state"], tick["step"]) == ("timeout", "timeout")
    assert "RUNNER_TICK_TIMEOUT_S" in tick["error"] and tick["space_id"]
    assert tick["actions"] >= 1
    # One for one with what devmcp served; a call in flight when the tick stopped is kept
    # as an error (the driver never saw its answer), whatever devmcp answered it.
    stored = db.execute(
        "SELECT tool_name, result = 'error', error_message FROM personas.persona_actions"
        " WHERE persona_id = %s ORDER BY id",
        (slow.id,),
    ).fetchall()
    served = served_calls(devmcp, since, [slow])
    assert sorted(row[0] for row in stored) == sorted(call[0] for call in served)
    assert sum(row[2] == STOPPED for row in stored) <= 1
    errors = sorted(row[0] for row in stored if row[1] and row[2] != STOPPED)
    assert errors == sorted(call[0] for call in served if call[3])
    assert feedback_of(db, slow.id) == []


def own_api(service_env: dict[str, str], port: int) -> Process:
    """The API under gunicorn on a port of its own, for a test that stops and restarts it
    (on the same port and database)."""
    cmd = gunicorn_cmd("app:app", port, workers=1)
    return Process("web-outage", cmd, service_env, port, log_path=ARTIFACTS / "web-outage.log").wait_ready()


def runner_with_fresh_log(stack, api: Process, name: str, **env: str) -> Process:
    """A runner whose log holds this run only (logs are appended to across runs)."""
    (ARTIFACTS / f"{name}.log").unlink(missing_ok=True)
    return start_runner(name, api, stack["auth"], stack["mcp"], stack["llm"], **env)


def logged_for_replay(runner_process: Process) -> list[dict]:
    return list(unposted_records(runner_process.log_path.read_text(errors="replace").splitlines()))


@dataclass
class Outage:
    """A persona's tick under way when its API went away: the runner driving it, and the
    API (stopped until a test starts it again on `port`)."""

    persona: service_stack.TestPersona
    since: str
    runner: Process
    api: Process
    port: int


@contextmanager
def api_lost_mid_tick(stack, admin_token, service_env, name: str, *, delay_ms: int, lease_s: int):
    """The API on a port of its own, one persona whose model answers after `delay_ms`
    (a day of several seconds, to lose the API in) and a runner of its own leasing for
    `lease_s`; the API is stopped once the product served the persona's first call. Both
    processes are stopped at the end, the runner first."""
    port = free_port()
    api = own_api(service_env, port)
    persona = add_persona(api, admin_token, name)
    fault(stack["llm"], delayMs=delay_ms, times=50)
    since = now_iso()
    runner = runner_with_fresh_log(stack, api, f"runner-{name}", RUNNER_LEASE_S=str(lease_s))
    outage = Outage(persona, since, runner, api, port)
    try:
        wait_for(
            "the product to serve a call", lambda: served_calls(stack["mcp"], since, [persona]), timeout=30
        )
        api.stop()  # the day goes on; its posts meet the outage
        yield outage
    finally:
        runner.stop()
        outage.api.stop()


def test_a_20s_api_outage_at_the_end_of_a_tick_loses_no_action_rating_report_or_lease(
    stack, admin_token, service_env
):
    db, devmcp = stack["db"], stack["mcp"]
    # A 60 s lease is heartbeaten every 20 s: a beat falls in the outage and fails too.
    with api_lost_mid_tick(stack, admin_token, service_env, "outage", delay_ms=800, lease_s=60) as outage:
        back_at = time.monotonic() + 20
        while time.monotonic() < back_at:  # the outage itself: nothing may be given up in it
            assert logged_for_replay(outage.runner) == []
            time.sleep(0.5)
        outage.api = own_api(service_env, outage.port)
        wait_for("the tick to end", lambda: finished(db, [outage.persona]), timeout=30)
        wait_for("the lease to end", lambda: leased(db) == [], timeout=10)
    persona, since, service = outage.persona, outage.since, outage.runner
    [tick] = ticks_of(db, persona.id)
    assert tick["state"] == "ok"
    # Every call the product served is stored, once.
    assert action_rows(db, [persona]) == served_calls(devmcp, since, [persona])
    ratings = feedback_of(db, persona.id)
    assert ratings and len({module for _, module, _, _ in ratings}) == len(ratings)
    kept = "SELECT count(*) FROM personas.persona_transcripts WHERE persona_id = %s AND tick_id = %s"
    assert db.execute(kept, (persona.id, tick["tick_id"])).fetchone() == (1,)
    assert logged_for_replay(service) == []


def test_an_outage_past_the_lease_gives_up_at_its_end_and_a_replay_of_the_log_loses_nothing(
    stack, admin_token, service_env
):
    db, devmcp = stack["db"], stack["mcp"]
    with api_lost_mid_tick(stack, admin_token, service_env, "lapsed", delay_ms=500, lease_s=5) as outage:
        persona, since, service = outage.persona, outage.since, outage.runner
        down_at = time.monotonic()
        wait_for("the tick's line", lambda: persona.email in service.log_path.read_text(), timeout=30)
        gave_up_after = time.monotonic() - down_at
    # Given up at the lease's end (5 s from its last beat), not held for a minute.
    assert gave_up_after < 15
    [tick] = ticks_of(db, persona.id)  # reported running before the outage, and no more
    assert tick["state"] == "running"
    assert action_rows(db, [persona]) == [] and feedback_of(db, persona.id) == []
    # Everything the tick had to post, in order, in full: the actions, the ratings, the
    # final report, the transcript, the release (the ratings never arrived to end the lease).
    records = logged_for_replay(service)
    internal = f"/api/v1/personas/internal/{persona.id}"
    assert [(r["method"], r["path"]) for r in records] == [
        ("POST", f"{internal}/actions"),
        ("POST", f"{internal}/feedback"),
        ("PUT", f"{internal}/ticks/{tick['tick_id']}"),
        ("PUT", f"{internal}/ticks/{tick['tick_id']}/transcript"),
        ("DELETE", f"/api/v1/personas/internal/claims/{persona.id}?runnerId=runner-lapsed"),
    ]
    assert len(records[0]["body"]["actions"]) == len(served_calls(devmcp, since, [persona]))
    assert records[1]["body"]["feedback"] and records[2]["body"]["state"] == "ok"
    assert records[3]["body"]["events"][-1]["kind"] == "ratings"
    assert all("Connection refused" in r["reason"] for r in records)

    api = own_api(service_env, outage.port)
    try:
        env = {"MANA_API_URL": api.url, "MANA_SERVICE_KEY": SERVICE_KEY, "APP_ENV": "test"}
        replayed = run_python("-m", "persona_runner", "replay", str(service.log_path), **env)
    finally:
        api.stop()
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert replayed.stdout.splitlines()[-1] == "replay: 5 records, 5 done, 0 failed"
    [tick] = ticks_of(db, persona.id)
    assert tick["state"] == "ok" and tick["finished_at"] is not None
    assert action_rows(db, [persona]) == served_calls(devmcp, since, [persona])
    ratings = feedback_of(db, persona.id)
    assert ratings and len({module for _, module, _, _ in ratings}) == len(ratings)


def test_devmcp_refusing_the_token_fails_the_tick_at_driver_and_the_next_persona_goes_on(
    stack, admin_token, database_url
):
    db, api, devauth = stack["db"], stack["api"], stack["auth"]
    personas = [add_persona(api, admin_token, "refused"), add_persona(api, admin_token, "refused")]
    port = free_port()
    env = devmcp_env(database_url, devauth, JWT_AUDIENCE="not-mana")
    strict = Process(
        "devmcp-strict", [sys.executable, "-m", "devmcp"], env, port, log_path=ARTIFACTS / "devmcp-strict.log"
    ).wait_ready()
    service = start_runner("runner-refused", api, devauth, strict, stack["llm"], PERSONA_CONCURRENCY="1")
    try:
        wait_for("both ticks", lambda: finished(db, personas))
        alive = requests.get(f"{service.url}/health", timeout=TIMEOUT).status_code
    finally:
        service.stop()
        strict.stop()
    for persona in personas:
        [tick] = ticks_of(db, persona.id)
        assert (tick["state"], tick["step"]) == ("failed", "driver")
        assert "401" in tick["error"] and tick["actions"] == 0
    assert leased(db) == [] and alive == 200


def test_sigterm_mid_tick_reports_every_tick_and_leaves_nothing_leased(stack, admin_token):
    db, api = stack["db"], stack["api"]
    personas = [add_persona(api, admin_token, "term"), add_persona(api, admin_token, "term")]
    fault(stack["llm"], delayMs=1000, times=50)
    service = runner(stack, "runner-term", RUNNER_GRACE_S="1")
    wait_for("both ticks running", lambda: running(db, personas))
    service.stop(timeout=30)
    assert service.proc.returncode == 0
    for persona in personas:
        [tick] = ticks_of(db, persona.id)
        assert (tick["state"], tick["step"]) == ("timeout", "timeout")
        assert "shutting down" in tick["error"]
    assert leased(db) == []


def test_two_runners_never_drive_one_persona_at_once_and_heartbeats_outlive_the_lease(stack, admin_token):
    db, api = stack["db"], stack["api"]
    personas = [add_persona(api, admin_token, "fleet") for _ in range(3)]
    fault(stack["llm"], delayMs=1200, times=200)
    lease = {"RUNNER_LEASE_S": "5", "PERSONA_CONCURRENCY": "2"}
    first = runner(stack, "runner-a", **lease)
    second = runner(stack, "runner-b", **lease)
    try:
        wait_for("a tick of every persona", lambda: finished(db, personas), timeout=90)
    finally:
        first.stop()
        second.stop()
    ticks = {p.id: ticks_of(db, p.id) for p in personas}
    assert all(len(t) == 1 and t[0]["state"] == "ok" for t in ticks.values()), ticks
    durations = [(t[0]["finished_at"] - t[0]["started_at"]).total_seconds() for t in ticks.values()]
    assert max(durations) > 5  # outlived its 5 s lease, kept by heartbeats, never re-claimed
    assert set(Counter(t[0]["runner_id"] for t in ticks.values())) <= {"runner-a", "runner-b"}


def test_ratings_out_of_schema_post_nothing_and_fail_the_tick_at_feedback(stack, admin_token):
    db, api = stack["db"], stack["api"]
    persona = add_persona(api, admin_token, "badrating")
    fault(stack["llm"], badRatings=True)
    service = runner(stack, "runner-bad-ratings")
    try:
        wait_for("the tick", lambda: finished(db, [persona]))
    finally:
        service.stop()
    [tick] = ticks_of(db, persona.id)
    assert (tick["state"], tick["step"]) == ("failed", "feedback")
    assert "submit_ratings" in tick["error"] or "rating" in tick["error"]
    assert tick["actions"] >= 3 and feedback_of(db, persona.id) == []
    assert leased(db) == []


def test_a_rate_limit_asking_to_wait_an_hour_fails_the_tick_within_seconds_at_driver(stack, admin_token):
    db, api = stack["db"], stack["api"]
    persona = add_persona(api, admin_token, "ratelimited")
    fault(stack["llm"], status=429, retryAfter=3600, times=3)
    service = runner(stack, "runner-429")
    try:
        wait_for("the tick to fail", lambda: finished(db, [persona]), timeout=20)
    finally:
        service.stop()
    [tick] = ticks_of(db, persona.id)
    assert (tick["state"], tick["step"]) == ("failed", "driver")
    assert tick["error"].startswith("model: 429 rate_limit_error")
    assert (tick["finished_at"] - tick["started_at"]).total_seconds() < 10
    assert leased(db) == []


def test_a_lease_taken_by_another_runner_stops_the_tick_at_step_lease(stack, admin_token):
    db, api, devmcp = stack["db"], stack["api"], stack["mcp"]
    persona, since, service = stalled_runner(stack, admin_token, "robbed", 1000, RUNNER_LEASE_S="5")
    try:
        wait_for("the tick to run", lambda: running(db, [persona]))
        wait_for("a first action", lambda: served_calls(devmcp, since, [persona]), timeout=20)
        # The lease is released under the runner and claimed by another one.
        internal = f"{api.url}/api/v1/personas/internal/claims"
        headers = {"X-Service-Key": SERVICE_KEY}
        taken = requests.delete(
            f"{internal}/{persona.id}", params={"runnerId": "runner-robbed"}, headers=headers, timeout=TIMEOUT
        )
        assert taken.status_code == 204
        claim = {"runnerId": "thief", "limit": 10, "leaseSeconds": 600}
        claimed = requests.post(internal, json=claim, headers=headers, timeout=TIMEOUT).json()["personas"]
        assert [p["userId"] for p in claimed] == [persona.id]
        took_at = time.monotonic()
        # The next heartbeat (every 5/3 s) meets the thief's lease: the tick stops there.
        wait_for("the tick to stop", lambda: finished(db, [persona]), timeout=10)
        stopped_after = time.monotonic() - took_at
    finally:
        service.stop()
    [tick] = ticks_of(db, persona.id)
    assert (tick["state"], tick["step"]) == ("failed", "lease") and "409" in tick["error"]
    assert stopped_after < 5
    # What the product served is posted; nothing else: no ratings, the thief's lease kept.
    assert tick["actions"] >= 1
    assert sorted(row[0] for row in action_rows(db, [persona])) == sorted(
        call[0] for call in served_calls(devmcp, since, [persona])
    )
    assert feedback_of(db, persona.id) == []
    assert lease_of(db, persona.id)[0] == "thief"


def test_paused_the_runner_stays_up_and_claims_nothing(stack, admin_token):
    db, api = stack["db"], stack["api"]
    persona = add_persona(api, admin_token, "paused")
    service = runner(stack, "runner-paused", RUNNER_PAUSED="true")
    try:
        time.sleep(1)
        health = requests.get(f"{service.url}/health", timeout=TIMEOUT).json()
    finally:
        service.stop()
    assert health["paused"] is True and health["inflight"] == 0
    assert ticks_of(db, persona.id) == [] and leased(db) == []


def lease_of(db, persona_id: str) -> tuple:
    return db.execute(
        "SELECT lease_runner, lease_until FROM personas.personas WHERE user_id = %s", (persona_id,)
    ).fetchone()
