"""The row ids clients read: `{tickId}-{i}-{toolName}` and `{tickId}-{module}`. They are
not what makes a row unique (that is the tick, index and tool, or the tick and module, as
columns: concatenated, `fc-a` + `b-c` and `fc-a-b` + `c` would be one key).

A key longer than KEY_MAX keeps its head and replaces the rest with a SHA-256 of the
whole key, so two long keys that differ only near the end never collide.
"""

from __future__ import annotations

import hashlib

KEY_MAX = 256
_DIGEST_CHARS = 64


def bounded(key: str) -> str:
    if len(key) <= KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: KEY_MAX - _DIGEST_CHARS - 1]}~{digest}"


def action_key(tick_id: str, index: int, tool_name: str) -> str:
    return bounded(f"{tick_id}-{index}-{tool_name}")


def feedback_key(tick_id: str, module: str) -> str:
    return bounded(f"{tick_id}-{module}")
