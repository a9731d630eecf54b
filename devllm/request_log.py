"""What each API key sent and was billed, newest MAX_KEPT requests per key, for tests and
benchmarks to see (`GET /dev/requests` with the same key): the tools, system prompt and
tool_choice each request carried, its prompt block by block, and its usage."""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from typing import Any

from devllm.prompt import Block, canonical, system_blocks, without_cache_control

MAX_KEPT = 1000


def owner_of(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(without_cache_control(value)).encode()).hexdigest()[:16]


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_owner: dict[str, deque] = {}

    def record(self, api_key: str, body: dict[str, Any], prompt: list[Block], usage: dict) -> None:
        entry = {
            "tools": digest(body.get("tools") or []),
            "system": digest(system_blocks(body)),
            "toolChoice": body.get("tool_choice"),
            # [what was sent up to here, its tokens, its level]: a block whose first item
            # an earlier request had was sent before, with all that came before it.
            "blocks": [[b.content[:16], b.tokens, b.level] for b in prompt],
            "usage": usage,
        }
        with self._lock:
            self._by_owner.setdefault(owner_of(api_key), deque(maxlen=MAX_KEPT)).append(entry)

    def of(self, api_key: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._by_owner.get(owner_of(api_key), ()))
