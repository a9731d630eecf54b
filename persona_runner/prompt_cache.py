"""Where a request asks the Messages API to cache its prompt.

Three breakpoints (the API takes four): the last tool, so every persona of one product
shares the tools while they live; the system prompt, the persona's own for the tick; and
the last block of the conversation, moved to the end at each request so that the next
one reads everything before it. The prefix never changes inside a tick: the tools (the
ratings tool included, offered from the first request), their order and the system
prompt stay as they were; the conversation only grows. The caller's lists are never
changed: the marks go on copies, so the conversation kept carries none.
"""

from __future__ import annotations

from typing import Any

EPHEMERAL = {"type": "ephemeral"}


def cached_request(tools: list[dict], system: str, messages: list[dict]) -> dict[str, Any]:
    """`tools`, `system` and `messages` with their breakpoints, as create() takes them."""
    return {"tools": marked_tools(tools), "system": marked_system(system), "messages": marked_end(messages)}


def marked_tools(tools: list[dict]) -> list[dict]:
    return [*tools[:-1], {**tools[-1], "cache_control": EPHEMERAL}] if tools else []


def marked_system(system: str) -> list[dict]:
    return [{"type": "text", "text": system, "cache_control": EPHEMERAL}]


def marked_end(messages: list[dict]) -> list[dict]:
    """The conversation with its last content block marked (a string content becomes the
    one text block it stands for, which the API reads the same)."""
    if not messages:
        return messages
    last = messages[-1]
    content = last["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    if not blocks:
        return messages
    blocks[-1] = {**blocks[-1], "cache_control": EPHEMERAL}
    return [*messages[:-1], {**last, "content": blocks}]
