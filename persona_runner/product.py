"""The product's MCP server as one persona sees it: a Streamable HTTP session carrying the
persona's token and space, its tool list, and each call timed and reduced to what the
audit keeps (the text, whether the product said it failed, how long it took)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import mcp_types as types
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from persona_runner.errors import DriverFailed

CONNECT_TIMEOUT = 5.0
# The personas API takes a product name and version of at most this many characters.
SERVER_INFO_MAX = 200


@dataclass(frozen=True)
class ProductTool:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolAnswer:
    text: str
    is_error: bool
    latency_ms: int


class Product:
    def __init__(self, session: ClientSession, timeout: float) -> None:
        self.session = session
        self.timeout = timeout

    @property
    def info(self) -> dict[str, str] | None:
        """The serverInfo the product answered at the handshake: which release the tick
        ran against. None when it gave no name or version."""
        server = self.session.server_info
        if server is None or not server.name or not server.version:
            return None
        return {"name": server.name[:SERVER_INFO_MAX], "version": server.version[:SERVER_INFO_MAX]}

    async def tools(self) -> list[ProductTool]:
        listed = await self.session.list_tools()
        return [
            ProductTool(tool.name, tool.description or "", dict(tool.input_schema or {"type": "object"}))
            for tool in listed.tools
        ]

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolAnswer:
        """The product's answer; a JSON-RPC error or a broken transport is an error answer
        too, since the call was made and failed."""
        started = time.monotonic()
        try:
            result = await self.session.call_tool(name, arguments, read_timeout_seconds=self.timeout)
        except MCPError as exc:
            return ToolAnswer(f"{name}: {exc}", True, elapsed_ms(started))
        except httpx2.HTTPError as exc:
            failed = f"{name}: the call failed ({type(exc).__name__}: {exc})"
            return ToolAnswer(failed, True, elapsed_ms(started))
        if not isinstance(result, types.CallToolResult):
            return ToolAnswer(f"{name}: an answer that is not a tool result", True, elapsed_ms(started))
        return ToolAnswer(result_text(result), bool(result.is_error), elapsed_ms(started))


@contextlib.asynccontextmanager
async def open_product(mcp_url: str, token: str, space_id: str, timeout: float) -> AsyncIterator[Product]:
    """An initialised session at `<mcp_url>/mcp`; one that cannot be opened is DriverFailed."""
    headers = {"Authorization": f"Bearer {token}", "X-Mana-Space": space_id}
    http_timeout = httpx2.Timeout(timeout, connect=CONNECT_TIMEOUT)
    refusal = LastRefusal()
    opened = False
    try:
        async with (
            httpx2.AsyncClient(
                headers=headers, timeout=http_timeout, event_hooks={"response": [refusal.note]}
            ) as http,
            streamable_http_client(f"{mcp_url}/mcp", http_client=http) as (read, write),
            ClientSession(read, write, read_timeout_seconds=timeout) as session,
        ):
            await session.initialize()
            opened = True
            yield Product(session, timeout)
    except (MCPError, httpx2.HTTPError, OSError, ExceptionGroup) as exc:
        if opened:
            raise
        raise DriverFailed(f"MCP session at {mcp_url}/mcp: {refusal.text or reason(exc)}") from exc


class LastRefusal:
    """The product's last HTTP refusal (status and body), which the MCP client reports
    only as "Server returned an error response"."""

    def __init__(self) -> None:
        self.text = ""

    async def note(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            body = (await response.aread()).decode("utf-8", "replace")
            self.text = f"{response.status_code} {' '.join(body.split())[:300]}"


def reason(exc: BaseException) -> str:
    """The first leaf of an exception group, in one line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"{exc.response.status_code} {exc.response.text[:200]}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def result_text(result: types.CallToolResult) -> str:
    parts = []
    for block in result.content:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{block.type}]")
    return "\n".join(parts)


def elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
