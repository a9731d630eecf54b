"""An answer cut short, as the API cuts one at `max_tokens` (or at the context window):
the blocks in order until the budget runs out, the last one partial. A `tool_use` the cut
falls in stays, with the part of its input written so far (whole keys and items, the
last string cut mid-way), so a client that trusts it without reading `stop_reason`
acts on half an argument, as it would with the real API."""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4
MISSING = object()


def tokens(text: str) -> int:
    """About one token per four characters: devllm's one approximation, everywhere."""
    return max(1, round(len(text) / CHARS_PER_TOKEN))


def written(block: dict[str, Any]) -> str:
    """What the model writes for a block: its text, or its tool input as JSON."""
    if block["type"] == "tool_use":
        return dump(block["input"])
    return block.get("text", "")


def output_tokens(content: list[dict[str, Any]]) -> int:
    return tokens("".join(written(b) for b in content))


def cut(content: list[dict[str, Any]], budget_tokens: int) -> list[dict[str, Any]]:
    left = budget_tokens * CHARS_PER_TOKEN
    kept: list[dict[str, Any]] = []
    for block in content:
        size = len(written(block))
        if size <= left:
            kept.append(block)
            left -= size
            continue
        if block["type"] == "tool_use":
            kept.append({**block, "input": _partial(block["input"], left)[0]})
        elif left > 0:
            kept.append({**block, "text": block["text"][:left]})
        break
    return kept


def _partial(value: Any, left: int) -> tuple[Any, int]:
    """`value` as far as `left` characters of its JSON reach, and the characters used."""
    size = len(dump(value))
    if size <= left:
        return value, size
    if isinstance(value, dict):
        return _partial_items(value.items(), left, dict)
    if isinstance(value, list):
        return _partial_items(((None, v) for v in value), left, list)
    if isinstance(value, str) and left >= 2:
        return value[: left - 2], left
    return MISSING, 0


def _partial_items(items: Any, left: int, kind: type) -> tuple[Any, int]:
    done: list[tuple[Any, Any]] = []
    used = 2  # the brackets
    for key, item in items:
        overhead = 1 + (len(dump(key)) + 1 if key is not None else 0)  # comma, key and colon
        if used + overhead >= left:
            break
        part, size = _partial(item, left - used - overhead)
        if part is MISSING:
            break
        done.append((key, part))
        used += overhead + size
        if part is not item:
            break
    return (dict(done) if kind is dict else [part for _, part in done]), used


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
