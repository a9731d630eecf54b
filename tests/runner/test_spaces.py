"""The space rule: a paired persona alternates between its shared and its personal
space, counted from its own finished ticks; anyone else stays in the personal one."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from itertools import permutations

import pytest

from persona_runner.errors import NoPersonalSpace
from persona_runner.spaces import Space, choose_space, spaces_of

PERSONAL = Space("p-1", "Kate", "personal")
FAMILY = Space("f-1", "The Brandts", "family")
TEAM = Space("t-1", "Studio", "team")


def tick(space_id: str | None, state: str = "ok") -> dict:
    return {"tickId": "tick-x", "state": state, "spaceId": space_id, "tools": [], "ratings": []}


def test_a_persona_without_a_shared_space_always_acts_in_its_personal_one():
    assert choose_space([PERSONAL], []) == PERSONAL
    assert choose_space([PERSONAL], [tick("p-1"), tick("p-1")]) == PERSONAL


def test_a_paired_personas_first_tick_is_in_the_shared_space():
    assert choose_space([PERSONAL, FAMILY], []) == FAMILY


def test_ticks_alternate_counted_from_the_newest_finished_one():
    spaces = [PERSONAL, FAMILY]
    story: list[dict] = []
    chosen = []
    for _ in range(5):
        space = choose_space(spaces, story)
        chosen.append(space.id)
        story.insert(0, tick(space.id))  # newest first, as the history answers
    assert chosen == ["f-1", "p-1", "f-1", "p-1", "f-1"]


@pytest.mark.parametrize("state", ["failed", "timeout"])
def test_a_failed_tick_counts_where_it_was_and_one_failed_before_any_space_does_not(state):
    assert choose_space([PERSONAL, FAMILY], [tick("f-1", state)]) == PERSONAL
    assert choose_space([PERSONAL, FAMILY], [tick(None, state), tick("f-1")]) == FAMILY


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_with_several_shared_spaces_the_oldest_is_the_one_whatever_the_listed_order(order):
    team = replace(TEAM, created_at=at("2026-03-01T10:00:00.100Z"))
    family = replace(FAMILY, created_at=at("2026-03-01T10:00:00.02Z"))
    spaces = [[PERSONAL, team, family][i] for i in order]
    assert choose_space(spaces, []) == family
    assert choose_space(spaces, [tick("f-1")]) == PERSONAL


def test_spaces_created_at_once_or_undated_are_told_apart_by_id():
    same = at("2026-03-01T10:00:00Z")
    b, a = Space("b-1", "B", "team", created_at=same), Space("a-1", "A", "family", created_at=same)
    assert choose_space([PERSONAL, b, a], []) == a
    undated = Space("0-1", "Undated", "team")
    assert choose_space([PERSONAL, undated, b], []) == b
    assert choose_space([PERSONAL, undated, Space("1-1", "U", "brand")], []) == undated


def test_a_space_of_unknown_type_is_never_taken_for_a_shared_one():
    odd = Space("o-1", "Odd", None)
    assert choose_space([odd, PERSONAL], []) == PERSONAL


def test_no_personal_space_is_refused():
    with pytest.raises(NoPersonalSpace):
        choose_space([FAMILY], [])


def test_mana_auths_list_is_read_with_metadata_as_object_or_string_and_its_creation_time():
    listed = [
        {
            "id": "f-1",
            "name": "The Brandts",
            "metadata": '{"type":"family"}',
            "createdAt": "2026-03-01T10:00:00.5Z",
        },
        {"id": "p-1", "name": "Kate", "metadata": {"type": "personal"}, "createdAt": "not a time"},
        {"name": "no id"},
    ]
    assert spaces_of(listed) == [replace(FAMILY, created_at=at("2026-03-01T10:00:00.500+00:00")), PERSONAL]
