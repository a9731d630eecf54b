"""What the runner posts is what the internal routes accept, and what it reads from
the personas API and mana-auth is read as the contracts allow it to come."""

from __future__ import annotations

import json
import re

import pytest

from apibase.client_errors import UnexpectedResponse, summarize
from persona_runner.errors import DriverFailed
from persona_runner.models import Action, Persona, Rating, TickOutcome
from persona_runner.spaces import space_type
from persona_runner.tick import new_tick_id


def test_action_rows_lose_nul_characters_and_respect_the_length_caps():
    row = Action("todo.create", "error", latency_ms=-5, error_message="bad\x00" + "x" * 5000).to_json(
        "tick-1"
    )
    assert "\x00" not in row["errorMessage"] and len(row["errorMessage"]) == 4000
    assert row["latencyMs"] == 0
    assert row == {**row, "tickId": "tick-1", "toolName": "todo.create", "result": "error"}


@pytest.mark.parametrize("bad", [0, 6, 2.5, True, "3"])
def test_a_tick_with_a_rating_outside_1_to_5_is_refused_before_posting(bad):
    with pytest.raises(DriverFailed, match="rating 0"):
        TickOutcome(actions=[], ratings=[Rating("todo", bad)]).check()


def test_a_tick_over_the_batch_limit_is_refused_rather_than_split():
    actions = [Action("todo.list", "ok")] * 501
    with pytest.raises(DriverFailed, match="501 actions"):
        TickOutcome(actions=actions, ratings=[]).check()


def test_persona_rows_are_read_as_the_due_route_sends_them():
    row = {
        "userId": "u1",
        "email": "noah.hoffmann@mana.test",
        "archetype": "adhd-student",
        "systemPrompt": "You are Noah.",
        "moduleMix": {"todo": 0.3, "habits": 1, "broken": "x", "flag": True},
        "tickCadence": "hourly",
        "lastActiveAt": None,
    }
    persona = Persona.from_json(row)
    assert persona.user_id == "u1" and persona.module_mix == {"todo": 0.3, "habits": 1.0}
    with pytest.raises(UnexpectedResponse):
        Persona.from_json({"email": "no-id@mana.test"})


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"type": "personal"}, "personal"),
        (json.dumps({"type": "personal"}), "personal"),
        ({"type": "family"}, "family"),
        ("not json", None),
        (None, None),
        ("[1, 2]", None),
    ],
)
def test_space_metadata_is_read_as_an_object_or_a_json_string(metadata, expected):
    assert space_type(metadata) == expected


def test_tick_ids_are_unique_and_readable():
    ids = {new_tick_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"tick-\d{8}T\d{6}Z-[0-9a-f]{8}", i) for i in ids)


def test_error_bodies_are_summarized_in_one_line_with_the_failed_step():
    body = {"error": "UpstreamError", "message": "mana-auth did not answer.", "step": "register"}
    assert summarize(body) == "UpstreamError: mana-auth did not answer. (step: register)"
    assert summarize("<html>\n<body>Bad gateway</body>\n</html>") == "<html> <body>Bad gateway</body> </html>"
