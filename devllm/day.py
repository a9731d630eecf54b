"""The deterministic "model": what it answers to a day conversation and to a request for
the ratings. The same conversation always gets the same answer."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from devllm.conversation import (
    AUTO,
    NONE,
    RATINGS_TOOL,
    REQUIRED,
    Conversation,
    Turn,
    module_of,
    ratings_enum,
)
from devllm.schema_values import value_for

SLOW_MS = 2000
MIN_CALLS, MAX_CALLS = 3, 8


def seed_of(*parts: Any) -> int:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def tool_use_id(seed: int, index: int) -> str:
    return "toolu_dev" + hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()[:20]


def rates_now(turn: Turn) -> bool:
    """Whether this answer is the ratings: `submit_ratings` forced, or offered and asked for
    by name in the last user turn (as a model does what it is asked, with the tool choice
    left as it was)."""
    forced = forced_tool(turn)
    if forced is not None:
        return forced["name"] == RATINGS_TOOL
    offered = any(t.get("name") == RATINGS_TOOL for t in turn.tools)
    asked = RATINGS_TOOL in turn.last_user_text
    return turn.choice in (AUTO, REQUIRED) and offered and asked


def ratings_in_words(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ratings answer as prose with no call (the `noToolCall` switch), as a model that
    ignores the tool choice or the request writes it."""
    call = next((b for b in blocks if b["type"] == "tool_use"), None)
    ratings = call["input"].get("ratings", []) if call else []
    said = "; ".join(f"{r['module']}: {r['rating']} ({r['notes']})" for r in ratings)
    text = f"Here is how my day went. {said}" if said else "I did not use anything today."
    return [{"type": "text", "text": text}]


def respond(turn: Turn, bad_ratings: bool = False) -> list[dict[str, Any]]:
    """The reply to a turn of either face, as content blocks (`text`, and `tool_use` with
    `id`, `name` and `input`: each face writes them its own way); `bad_ratings` makes a
    ratings answer out of its schema."""
    tools, conversation = turn.tools, turn.conversation
    enum = ratings_enum(tools)
    modules = {tool["name"]: module_of(tool, enum) for tool in tools}
    for call in conversation.calls:
        call.module = modules.get(call.name) or module_of({"name": call.name}, enum)
    seed = seed_of(turn.system, conversation.first_user_text, sorted(modules))
    offered = [t for t in tools if t["name"] != RATINGS_TOOL]
    choice = turn.choice
    if rates_now(turn):
        ratings = {"ratings": rate(conversation, enum)}
        if bad_ratings:
            ratings = {"ratings": [out_of_schema(r) for r in ratings["ratings"]]}
        ratings_tool = next(t for t in tools if t["name"] == RATINGS_TOOL)
        return [_tool_use(seed, len(conversation.calls), ratings_tool, ratings)]
    forced = forced_tool(turn)
    if forced is not None:
        return [_call(seed, conversation, len(conversation.calls), forced, modules)]
    if choice == NONE or not offered:
        return [{"type": "text", "text": closing_sentence(conversation)}]
    planned = plan(seed, offered, modules, conversation.first_user_text)
    done = len(conversation.calls)
    if done >= len(planned):
        if choice != REQUIRED:
            return [{"type": "text", "text": closing_sentence(conversation)}]
        planned = [*planned, planned[done % len(planned)]]
    per_turn = 1 + (seed >> 7) % 2  # one call a turn, or two, decided once per conversation
    batch = planned[done : done + per_turn]
    intro = {"type": "text", "text": f"Next I'll use {', '.join(t['name'] for t in batch)}."}
    return [intro, *(_call(seed, conversation, done + i, tool, modules) for i, tool in enumerate(batch))]


def forced_tool(turn: Turn) -> dict[str, Any] | None:
    """The tool this turn must call: the one the choice names, or the only one offered when
    a call is required (a server without named tool choice is forced that way)."""
    if turn.choice == REQUIRED and len(turn.tools) == 1:
        return turn.tools[0]
    return next((t for t in turn.tools if t["name"] == turn.choice), None)


def plan(seed: int, tools: list[dict], modules: dict[str, str], first_user_text: str) -> list[dict]:
    """The day's 3 to 8 calls: the modules the first user turn names, in its order, one tool
    of each in turn; then the other modules (in an order the seed picks) the same way."""
    count = MIN_CALLS + seed % (MAX_CALLS - MIN_CALLS + 1)
    by_module: dict[str, list[dict]] = {}
    for tool in tools:
        by_module.setdefault(modules[tool["name"]], []).append(tool)
    text = first_user_text.lower()
    positions = {m: re.search(rf"\b{re.escape(m.lower())}\b", text) for m in by_module}
    named = sorted((m for m, at in positions.items() if at), key=lambda m: positions[m].start())
    others = sorted((m for m in by_module if m not in named), key=lambda m: seed_of(seed, m))
    return [*_round_robin(named, by_module), *_round_robin(others, by_module)][:count]


def _round_robin(order: list[str], by_module: dict[str, list[dict]]) -> list[dict]:
    longest = max((len(by_module[m]) for m in order), default=0)
    return [by_module[m][i] for i in range(longest) for m in order if i < len(by_module[m])]


def _call(seed: int, conversation: Conversation, index: int, tool: dict, modules: dict) -> dict[str, Any]:
    known = conversation.known_id(modules.get(tool["name"], ""))
    arguments = value_for(tool.get("input_schema") or {"type": "object"}, seed + index, known)
    return _tool_use(seed, index, tool, arguments if isinstance(arguments, dict) else {})


def _tool_use(seed: int, index: int, tool: dict, arguments: dict) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_use_id(seed, index), "name": tool["name"], "input": arguments}


def rate(conversation: Conversation, enum: list[str] | None) -> list[dict[str, Any]]:
    """One rating per module used: 4 or 5 when every call went well; at most 3 with one
    failed or slow call, one less for each further one; the note quotes what went wrong."""
    used: dict[str, list] = {}
    for call in conversation.calls:
        used.setdefault(call.module, []).append(call)
    ratings = []
    for module, calls in used.items():
        if enum is not None and module not in enum:
            continue
        bad = [c for c in calls if c.is_error or (c.took_ms or 0) > SLOW_MS]
        if not bad:
            rating = 5 if seed_of(conversation.first_user_text, module) % 3 else 4
            notes = f"{module} did what I needed in {len(calls)} call(s)."
        else:
            rating = max(1, 4 - len(bad))
            notes = "; ".join(_complaint(c) for c in bad)[:1000]
        ratings.append({"module": module, "rating": rating, "notes": notes})
    return ratings


def out_of_schema(rating: dict[str, Any]) -> dict[str, Any]:
    """The rating in words instead of a whole number, as a careless model might send it."""
    return {**rating, "rating": f"{rating['rating']} out of 5"}


def _complaint(call) -> str:
    if call.is_error:
        return f'{call.name} failed: "{call.text[:300]}"'
    return f"{call.name} was slow (took {call.took_ms} ms)"


def closing_sentence(conversation: Conversation) -> str:
    modules = sorted({c.module for c in conversation.calls})
    if not modules:
        return "That's enough for today."
    return f"That's it for today: I used {', '.join(modules)} and I'm done."
