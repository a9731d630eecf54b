"""How `tools/list` answers, as a test wants it (the /dev/listing switch): in pages of
`page_size` tools, and with some tools' declared schemas replaced, to show a client a
product that pages its list or declares schemas it cannot use. Calls are not affected:
a tool still checks its arguments against its own input schema."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError


@dataclass(frozen=True)
class ListingSwitch:
    page_size: int | None = None
    input_schemas: dict[str, Any] = field(default_factory=dict)
    output_schemas: dict[str, Any] = field(default_factory=dict)


class Listing:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._switch = ListingSwitch()

    def set(self, switch: ListingSwitch) -> None:
        with self._lock:
            self._switch = switch

    def page(self, tools: list[types.Tool], cursor: str | None) -> types.ListToolsResult:
        """The page after `cursor` (the offset of its first tool, as a string)."""
        with self._lock:
            switch = self._switch
        listed = [_as_declared(tool, switch) for tool in tools]
        if switch.page_size is None and cursor is None:
            return types.ListToolsResult(tools=listed)
        start = _offset(cursor, len(listed))
        end = start + (switch.page_size or len(listed))
        after = str(end) if end < len(listed) else None
        return types.ListToolsResult(tools=listed[start:end], next_cursor=after)


def _as_declared(tool: types.Tool, switch: ListingSwitch) -> types.Tool:
    changes: dict[str, Any] = {}
    if tool.name in switch.input_schemas:
        changes["input_schema"] = switch.input_schemas[tool.name]
    if tool.name in switch.output_schemas:
        changes["output_schema"] = switch.output_schemas[tool.name]
    return tool.model_copy(update=changes) if changes else tool


def _offset(cursor: str | None, total: int) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or int(cursor) > total:
        raise MCPError(
            code=types.INVALID_PARAMS, message=f"cursor: not one this server gave ({cursor[:40]!r})"
        )
    return int(cursor)
