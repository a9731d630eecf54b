"""devmcp as the Procfile runs it (`python -m devmcp`, one process), with the mana-auth
stand-in behind it, plus users with their tokens and spaces, and an MCP client on the
official SDK."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx2
import pytest
import requests
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from devstack.postgres import free_port
from devstack.processes import ROOT, Process
from tests.conftest import SERVICE_KEY

ARTIFACTS = ROOT / "artifacts"
TIMEOUT = 10


@dataclass(frozen=True)
class User:
    id: str
    token: str
    space_id: str


def new_user(devauth: Process) -> User:
    """A registered user, logged in, with its personal space."""
    email = f"mcp-{uuid.uuid4().hex[:12]}@devmcp.test"
    key = {"X-Service-Key": SERVICE_KEY}
    body = {"email": email, "password": "correct horse", "name": "Mo"}
    register = requests.post(f"{devauth.url}/api/v1/auth/register", json=body, headers=key, timeout=TIMEOUT)
    register.raise_for_status()
    del body["name"]
    login = requests.post(f"{devauth.url}/api/v1/auth/login", json=body, timeout=TIMEOUT)
    login.raise_for_status()
    token = login.json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    orgs = requests.get(f"{devauth.url}/api/auth/organization/list", headers=bearer, timeout=TIMEOUT)
    orgs.raise_for_status()
    return User(id=login.json()["user"]["id"], token=token, space_id=orgs.json()[0]["id"])


def headers_of(user: User, space_id: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}", "X-Mana-Space": space_id or user.space_id}


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


def devmcp_env(database_url: str, devauth: Process, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "MANA_AUTH_URL": devauth.url, "APP_ENV": "test", **extra}


@pytest.fixture(scope="session")
def devmcp(database_url: str, devauth: Process) -> Iterator[Process]:
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    proc = Process(
        "devmcp",
        [sys.executable, "-m", "devmcp"],
        devmcp_env(database_url, devauth),
        port,
        log_path=ARTIFACTS / "devmcp.log",
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def clean_devmcp(devmcp: Process) -> Iterator[Process]:
    """devmcp with no faults registered, and none left behind."""
    requests.delete(f"{devmcp.url}/dev/faults", timeout=TIMEOUT).raise_for_status()
    yield devmcp
    requests.delete(f"{devmcp.url}/dev/faults", timeout=TIMEOUT).raise_for_status()
