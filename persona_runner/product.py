"""The product's MCP server as one persona sees it: a Streamable HTTP session carrying the
persona's token and space, its tool list (every page), and each call timed and reduced to
what the audit keeps (the text, whether it failed, how long it took) and what the model
is shown (the content blocks)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx2
import mcp_types as types
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT
from mcp.shared.exceptions import MCPError

from apibase.limits import NAME_MAX
from persona_runner.errors import DriverFailed
from persona_runner.tracing import inject_traceparent, tool_span

CONNECT_TIMEOUT = 5.0
# A product that keeps answering with a next page is broken; a tick stops asking.
MAX_TOOL_PAGES = 50
TRANSPORT_LOGGER = "mcp.client.streamable_http"


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
    # The result's MCP content blocks (text, image, resource, ...); empty for a failed call.
    content: tuple[Any, ...] = field(default=())
    # Why it failed, for its trace span: `tool_error` (the product said so) or the exception's class.
    error_type: str | None = None


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
        # The personas API takes a name and version of at most NAME_MAX characters.
        return {"name": server.name[:NAME_MAX], "version": server.version[:NAME_MAX]}

    async def tools(self) -> list[ProductTool]:
        """Every tool the product lists, following `nextCursor` page by page."""
        tools: list[ProductTool] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await self.session.list_tools(params=params)
            tools.extend(
                ProductTool(t.name, t.description or "", dict(t.input_schema or {"type": "object"}))
                for t in page.tools
            )
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolAnswer:
        """The product's answer, in the tick's trace as an `execute_tool` span."""
        with tool_span(name) as span:
            answer = await self.answer(name, arguments)
            span.failed(answer.error_type)
        return answer

    async def answer(self, name: str, arguments: dict[str, Any]) -> ToolAnswer:
        """The product's answer. Whatever fails once the call went out (a JSON-RPC error, a
        timeout, a broken transport, a result the SDK refuses) is an error answer too: the
        product may have acted on it, so the audit keeps it and the day goes on."""
        started = time.monotonic()
        try:
            # The SDK's per-request timeout bounds this call alone; the stream stays open.
            result = await self.session.call_tool(name, arguments, read_timeout_seconds=self.timeout)
        except MCPError as exc:
            return ToolAnswer(f"{name}: {exc}", True, elapsed_ms(started), error_type=type(exc).__name__)
        except Exception as exc:  # any layer's failure of a call that went out
            failed = f"{name}: the call failed ({type(exc).__name__}: {exc})"
            return ToolAnswer(failed, True, elapsed_ms(started), error_type=type(exc).__name__)
        if not isinstance(result, types.CallToolResult):
            failed = f"{name}: an answer that is not a tool result"
            return ToolAnswer(failed, True, elapsed_ms(started), error_type="not_a_tool_result")
        content = tuple(result.content)
        error_type = "tool_error" if result.is_error else None
        return ToolAnswer(
            result_text(result), bool(result.is_error), elapsed_ms(started), content, error_type
        )


@contextlib.asynccontextmanager
async def open_product(
    mcp_url: str,
    token: str,
    space_id: str,
    timeout: float,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncIterator[Product]:
    """An initialised session at `<mcp_url>/mcp` as the persona, in its space."""
    headers = {"Authorization": f"Bearer {token}", "X-Mana-Space": space_id}
    async with open_session(f"{mcp_url}/mcp", headers, timeout, transport) as product:
        yield product


@contextlib.asynccontextmanager
async def open_session(
    endpoint: str,
    headers: dict[str, str],
    timeout: float,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncIterator[Product]:
    """An initialised session at `endpoint`; one that cannot be opened is DriverFailed.

    The HTTP read timeout is the SDK's long one, for the session's event stream (a GET
    that is silent between server messages); each request is bounded by `timeout`.
    `transport`: connections the session borrows (a worker's), else its own."""
    http_timeout = httpx2.Timeout(timeout, connect=CONNECT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT)
    refusal = LastRefusal()
    opened = False
    closing = Closing()
    try:
        with closing.scope():
            async with (
                httpx2.AsyncClient(
                    headers=headers,
                    timeout=http_timeout,
                    event_hooks={"request": [traceparent], "response": [refusal.note]},
                    transport=transport,
                ) as http,
                streamable_http_client(endpoint, http_client=http) as (read, write),
                ClientSession(read, write, read_timeout_seconds=timeout) as session,
            ):
                await session.initialize()
                opened = True
                try:
                    yield Product(session, timeout)
                finally:
                    closing.now = True
    except (MCPError, httpx2.HTTPError, OSError, ExceptionGroup) as exc:
        if opened:
            raise
        raise DriverFailed(f"MCP session at {endpoint}: {refusal.text or reason(exc)}") from exc


async def traceparent(request: httpx2.Request) -> None:
    """The current span's trace context on every request: the MCP client sends each message
    from the context of the call that wrote it, so a `tools/call` carries its own span."""
    inject_traceparent(request.headers)


class Closing:
    """Whether this session is being closed. The transport's tasks inherit the context
    holding it, so its log lines can be told apart from those of other sessions."""

    current: ContextVar[Closing | None] = ContextVar("persona_runner_mcp_closing", default=None)

    def __init__(self) -> None:
        self.now = False

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        token = Closing.current.set(self)
        try:
            yield
        finally:
            Closing.current.reset(token)


class TeardownNoise(logging.Filter):
    """Drops the SDK's "GET stream disconnected" line when it comes from a session being
    closed: its event stream ends because we end it. The same line at any other time
    (the product dropped the stream mid-tick) is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        closing = Closing.current.get()
        teardown = closing is not None and closing.now
        return not (teardown and record.getMessage().startswith("GET stream disconnected"))


logging.getLogger(TRANSPORT_LOGGER).addFilter(TeardownNoise())


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
    """The result as the audit keeps it: its text, and text resources' text; other
    blocks by their kind."""
    parts = []
    for block in result.content:
        text = getattr(block, "text", None)
        resource_text = getattr(getattr(block, "resource", None), "text", None)
        if isinstance(text, str):
            parts.append(text)
        elif isinstance(resource_text, str):
            parts.append(resource_text)
        else:
            parts.append(f"[{block.type}]")
    return "\n".join(parts)


def elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
