"""The MCP server itself (the SDK's low-level `Server`): it lists the tools and serves
each call as the gated caller, applying faults and logging every call it served."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server

from devmcp.auth import Caller
from devmcp.faults import Call, CallLog, Faults
from devmcp.listing import Listing
from devmcp.tools import ToolError, Tools, as_text

CALLER_KEY = "devmcp.caller"
TOKEN_KEY = "devmcp.token"


def fault_message(tool: str) -> str:
    return f"{tool}: the store did not answer"


def traceparent_of(params: types.CallToolRequestParams, headers: Mapping[str, str]) -> str | None:
    """The call's own trace context (`params._meta.traceparent`), else its HTTP request's."""
    meta = params.meta or {}
    value = meta.get("traceparent") or headers.get("traceparent")
    return value if isinstance(value, str) and value else None


def build_server(tools: Tools, faults: Faults, calls: CallLog, listing: Listing, version: str) -> Server:
    async def list_tools(ctx, params) -> types.ListToolsResult:
        cursor = params.cursor if params is not None else None
        return listing.page(list(tools.tools.values()), cursor)

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        # The gate (devmcp.gate) put the verified caller on this HTTP request's state.
        state = ctx.request.scope["state"]
        caller: Caller = state[CALLER_KEY]
        text, is_error = await _serve(params.name, params.arguments or {}, caller, state[TOKEN_KEY])
        traceparent = traceparent_of(params, ctx.request.headers)
        calls.record(
            Call(datetime.now(UTC), caller.user_id, caller.space_id, params.name, is_error, traceparent)
        )
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=is_error)

    async def _serve(name: str, arguments: dict, caller: Caller, token: str) -> tuple[str, bool]:
        verdict = faults.take(name)
        if verdict and verdict.delay_ms:
            await anyio.sleep(verdict.delay_ms / 1000)
        if verdict and verdict.fail:
            return fault_message(name), True
        try:
            return as_text(await tools.call(name, arguments, caller, token)), False
        except ToolError as exc:
            return str(exc), True

    return Server("devmcp", version=version, on_list_tools=list_tools, on_call_tool=call_tool)


def deploy(server: Server, version: str) -> None:
    """Answer `version` in serverInfo from the next handshake on, as a deploy would. The
    SDK keeps a wire copy of serverInfo, fixed for a real server's life; it goes too."""
    server.version = version
    server.__dict__.pop("_server_info_stamp_source", None)
