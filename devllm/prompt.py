"""A request's prompt as the API reads it: one run of blocks in the order tools → system →
messages, each with its token count and, where the request marked one, its cache
breakpoint. Billing (`devllm.cache`) and the input token count both read this, so devllm
counts a prompt one way everywhere.

The token count is devllm's one approximation (`devllm.cut.tokens`, a token per four
characters) of each block's canonical JSON without its `cache_control`, plus the API's
tool-use system prompt when tools are offered (TOOL_USE_SYSTEM_TOKENS, the figure the
API's documentation gives for `auto`; counted at the head of the tools level).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from devllm.cut import tokens
from devllm.errors import ModelApiError

TOOL_USE_SYSTEM_TOKENS = 346
MAX_BREAKPOINTS = 4
TTLS = {"5m": 300, "1h": 3600}
# A hit is looked for at each breakpoint and this many blocks before it, as the API does.
LOOKBACK_BLOCKS = 20
LEVELS = {"tool-use system prompt": "tools"}


@dataclass(frozen=True)
class Block:
    digest: str  # of the whole prompt up to and including this block: the cache key
    content: str  # the same without the tool_choice: what was sent, whatever the choice
    tokens: int
    ttl: int | None  # seconds, where a breakpoint is marked on this block
    level: str  # tools, system or messages


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def without_cache_control(value: Any) -> Any:
    """The request as the model reads it: `cache_control` marks change no answer."""
    if isinstance(value, dict):
        return {k: without_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [without_cache_control(v) for v in value]
    return value


def read_prompt(body: dict[str, Any]) -> list[Block]:
    """The prompt's blocks in the API's order; a 400 for more than four breakpoints or a
    `cache_control` the API does not take. `tool_choice` is folded in where the messages
    begin: changing it leaves the tools and system caches valid and misses the messages'."""
    parts: list[tuple[str, dict | str, int | None]] = []
    tools = body.get("tools") or []
    if tools:
        parts.append(("tool-use system prompt", "", None))
    parts += [(f"tools.{i}", t, ttl_of(t, f"tools.{i}")) for i, t in enumerate(tools)]
    parts += [(f"system.{i}", b, ttl_of(b, f"system.{i}")) for i, b in enumerate(system_blocks(body))]
    parts.append(("tool_choice", canonical(body.get("tool_choice") or {"type": "auto"}), None))
    for i, message in enumerate(body["messages"]):
        for j, block in enumerate(message_blocks(message)):
            parts.append((f"messages.{i}.content.{j}", block, ttl_of(block, f"messages.{i}.content.{j}")))
    marked = sum(1 for _, _, ttl in parts if ttl is not None)
    if marked > MAX_BREAKPOINTS:
        raise ModelApiError(
            400, f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {marked}."
        )
    return list(blocks_of(parts, model=str(body.get("model", ""))))


def blocks_of(parts: list[tuple[str, dict | str, int | None]], model: str):
    running, content = hashlib.sha256(model.encode()), hashlib.sha256(model.encode())
    for name, part, ttl in parts:
        text = canonical(without_cache_control(part)) if isinstance(part, dict) else part
        level = name.split(".")[0]
        running.update(f"\x1e{level}\x1f{text}".encode())
        if name == "tool_choice":
            continue  # it changes the cache key of what follows, not the prompt's length here
        content.update(f"\x1e{level}\x1f{text}".encode())
        count = TOOL_USE_SYSTEM_TOKENS if name == "tool-use system prompt" else tokens(text)
        yield Block(running.hexdigest(), content.hexdigest(), count, ttl, LEVELS.get(level, level))


def system_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    system = body.get("system")
    if isinstance(system, str):
        return [{"type": "text", "text": system}] if system else []
    return [b if isinstance(b, dict) else {"type": "text", "text": str(b)} for b in system or []]


def message_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's content blocks, each with its role (a string content is one text block)."""
    content = message["content"]
    items = [{"type": "text", "text": content}] if isinstance(content, str) else content
    return [
        {"role": message["role"], **b} if isinstance(b, dict) else {"role": message["role"]} for b in items
    ]


def ttl_of(block: Any, where: str) -> int | None:
    marker = block.get("cache_control") if isinstance(block, dict) else None
    if marker is None:
        return None
    if not isinstance(marker, dict) or marker.get("type") != "ephemeral":
        raise ModelApiError(400, f"{where}.cache_control.type: Input should be 'ephemeral'")
    ttl = marker.get("ttl", "5m")
    if ttl not in TTLS:
        raise ModelApiError(400, f"{where}.cache_control.ttl: Input should be '5m' or '1h'")
    return TTLS[ttl]
