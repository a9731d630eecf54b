"""Two partners of one shared space see and change the same items through devmcp; a
third user cannot act in that space. The space is made through the stand-in's
organization routes, as the partners themselves would make it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
from mcp.shared.exceptions import MCPError

from persona_runner.spaces import space_type
from tests.support.mcp import ACCEPT, INIT, User, call, headers_of, mcp_session, run
from tests.support.standin import TIMEOUT, Person, person, shared_space, spaces


def in_space(who: Person, space_id: str) -> dict[str, str]:
    return headers_of(User(id=who.id, token=who.token, space_id=space_id))


def answer(result) -> dict:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


# Each test makes its space and memberships before devmcp first sees the partners'
# tokens: devmcp caches a token's space list for a few seconds (DEVMCP_SPACES_CACHE_S).


def test_both_partners_see_and_change_the_shared_spaces_items(clean_devmcp, devauth):
    owner, partner, space = shared_space(devauth)
    since = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    url = clean_devmcp.url

    created = answer(run(call(url, in_space(owner, space["id"]), "todo.create", {"title": "Plan the trip"})))
    item_id = created["item"]["id"]

    async def partners_turn():
        async with mcp_session(url, in_space(partner, space["id"])) as session:
            listed = answer(await session.call_tool("todo.list", {}))
            done = answer(await session.call_tool("todo.complete", {"id": item_id}))
            own = answer(await session.call_tool("todo.create", {"title": "Pack the bags"}))
            return listed, done, own

    listed, done, own = run(partners_turn())
    assert [(i["id"], i["createdBy"]) for i in listed["items"]] == [(item_id, owner.id)]
    assert done["item"]["done"] is True

    seen_by_owner = answer(run(call(url, in_space(owner, space["id"]), "todo.list", {"includeDone": True})))
    assert {(i["id"], i["createdBy"], i["done"]) for i in seen_by_owner["items"]} == {
        (item_id, owner.id, True),
        (own["item"]["id"], partner.id, False),
    }
    # The shared space's items are not in either partner's personal space.
    personal = answer(run(call(url, in_space(partner, listed_personal(devauth, partner)), "todo.list")))
    assert personal == {"items": []}

    calls = requests.get(f"{url}/dev/calls", params={"since": since}, timeout=TIMEOUT).json()["calls"]
    in_shared = {c["userId"] for c in calls if c["spaceId"] == space["id"]}
    assert in_shared == {owner.id, partner.id}


def test_spaces_list_shows_the_shared_space_to_each_partner(clean_devmcp, devauth):
    owner, partner, space = shared_space(devauth)
    for who in (owner, partner):
        spaces = answer(run(call(clean_devmcp.url, in_space(who, space["id"]), "spaces.list")))["spaces"]
        assert [s["current"] for s in spaces] == [False, True]
        assert spaces[1]["id"] == space["id"]


def test_a_third_user_cannot_use_the_shared_space(clean_devmcp, devauth):
    owner, _, space = shared_space(devauth)
    answer(run(call(clean_devmcp.url, in_space(owner, space["id"]), "notes.create", {"title": "Private"})))
    stranger = person(devauth, "Stranger")
    headers = {**ACCEPT, **in_space(stranger, space["id"])}
    refused = requests.post(f"{clean_devmcp.url}/mcp", json=INIT, headers=headers, timeout=TIMEOUT)
    assert refused.status_code == 403 and "not a member" in refused.json()["message"]
    with pytest.raises(ExceptionGroup) as refused_by_sdk:  # the SDK's task group wraps its error
        run(call(clean_devmcp.url, in_space(stranger, space["id"]), "notes.list"))
    assert refused_by_sdk.group_contains(MCPError)


def listed_personal(devauth, who: Person) -> str:
    [personal] = [
        s["id"] for s in spaces(devauth, who.token).json() if space_type(s["metadata"]) == "personal"
    ]
    return personal
