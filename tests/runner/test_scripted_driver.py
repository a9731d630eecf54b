"""The scripted driver: the same persona gives the same tick, every time, in any process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from persona_runner.drivers import ScriptedDriver, top_modules
from persona_runner.models import Persona, Session
from tests.support.drivers import drive

ROOT = Path(__file__).resolve().parents[2]


KATE_MIX = {"calendar": 0.35, "chat": 0.2, "todo": 0.2, "notes": 0.1, "spaces": 0.05}


def persona(email: str = "kate.brandt@mana.test", mix: dict[str, float] | None = None) -> Persona:
    return Persona(
        user_id="user-1",
        email=email,
        archetype="ceo-busy",
        system_prompt="You are Kate.",
        module_mix=KATE_MIX if mix is None else mix,
    )


def session(tick_id: str = "tick-20250101T000000Z-aaaaaaaa") -> Session:
    return Session(tick_id=tick_id, user_id="user-1", space_id="space-1", token="jwt")


def test_same_persona_and_session_give_the_same_tick():
    first = drive(ScriptedDriver(), persona(), session())
    second = drive(ScriptedDriver(), persona(), session())
    assert first == second


def test_the_tick_does_not_depend_on_the_tick_id():
    assert drive(ScriptedDriver(), persona(), session("tick-a")) == drive(
        ScriptedDriver(), persona(), session("tick-b")
    )


def test_the_tick_is_the_same_in_another_process():
    """Python's own hash() changes per process; the driver must not lean on it."""
    code = (
        "import json, dataclasses\n"
        "from persona_runner.drivers import ScriptedDriver\n"
        "from tests.runner.test_scripted_driver import persona, session\n"
        "from tests.support.drivers import drive\n"
        "print(json.dumps(dataclasses.asdict(drive(ScriptedDriver(), persona(), session()))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == json.loads(
        json.dumps(asdict(drive(ScriptedDriver(), persona(), session())))
    )


def test_it_uses_the_three_heaviest_modules():
    outcome = drive(ScriptedDriver(), persona(), session())
    assert [r.module for r in outcome.ratings] == ["calendar", "chat", "todo"]
    assert {a.tool_name.split(".")[0] for a in outcome.actions} == {"calendar", "chat", "todo"}


def test_ties_and_zero_weights_are_settled_by_name_and_left_out():
    assert top_modules({"notes": 0.2, "chat": 0.2, "todo": 0, "files": 0.5}, 3) == ["files", "chat", "notes"]
    assert top_modules({"todo": 0}, 3) == []


def test_exactly_one_action_fails_on_purpose_and_its_module_is_rated_low_with_the_reason():
    outcome = drive(ScriptedDriver(), persona(), session())
    failed = [a for a in outcome.actions if a.result == "error"]
    assert len(failed) == 1 and failed[0].error_message
    rating = next(r for r in outcome.ratings if failed[0].tool_name.startswith(r.module + "."))
    assert rating.rating <= 2 and failed[0].tool_name in rating.notes


def test_every_used_module_gets_one_rating_from_1_to_5_with_a_note():
    outcome = drive(ScriptedDriver(), persona(), session())
    modules = [r.module for r in outcome.ratings]
    assert len(modules) == len(set(modules))
    for rating in outcome.ratings:
        assert type(rating.rating) is int and 1 <= rating.rating <= 5
        assert rating.notes


def test_latencies_are_plausible_and_differ_between_personas():
    kate = drive(ScriptedDriver(), persona(), session())
    noah = drive(ScriptedDriver(), persona("noah.hoffmann@mana.test"), session())
    assert all(40 <= a.latency_ms < 500 for a in kate.actions + noah.actions)
    assert [a.latency_ms for a in kate.actions] != [a.latency_ms for a in noah.actions]


def test_the_tick_is_what_the_internal_routes_accept():
    outcome = drive(ScriptedDriver(), persona(), session())
    outcome.check()
    rows = [a.to_json("tick-1") for a in outcome.actions]
    assert all(
        set(r) <= {"tickId", "toolName", "result", "latencyMs", "inputHash", "errorMessage"} for r in rows
    )
    assert all(len(r["inputHash"]) == 64 for r in rows)


@pytest.mark.parametrize("mix", [{}, {"todo": 0.0}])
def test_a_persona_without_weighted_modules_does_nothing_rather_than_fail(mix):
    outcome = drive(ScriptedDriver(), persona(mix=mix), session())
    assert outcome.actions == [] and outcome.ratings == []
