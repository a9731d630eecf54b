"""Calling devmcp as the runner does: the official MCP client over Streamable HTTP, as a
stand-in user acting in one of its spaces."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from devstack.processes import Process
from tests.support.auth import bearer
from tests.support.standin import TIMEOUT, person, spaces

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass(frozen=True)
class User:
    id: str
    token: str
    space_id: str


def new_user(devauth: Process) -> User:
    """A registered user, logged in, acting in its personal space."""
    who = person(devauth, "Mo")
    listed = spaces(devauth, who.token)
    listed.raise_for_status()
    return User(id=who.id, token=who.token, space_id=listed.json()[0]["id"])


def headers_of(user: User, space_id: str | None = None) -> dict[str, str]:
    return {**bearer(user.token), "X-Mana-Space": space_id or user.space_id}


@contextlib.asynccontextmanager
async def mcp_session(url: str, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    """An initialised MCP session over Streamable HTTP, every request carrying `headers`."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=TIMEOUT) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def run(coro):
    return asyncio.run(coro)


async def call(url: str, headers: dict, tool: str, arguments: dict | None = None):
    """One tool call in a session of its own."""
    async with mcp_session(url, headers) as session:
        return await session.call_tool(tool, arguments or {})
