"""devmcp as the Procfile runs it (`python -m devmcp`, one process), with the mana-auth
stand-in behind it; its users and the MCP client are in tests/support/mcp.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import requests

from devstack.processes import Process
from tests.support.processes import running, without_faults

TIMEOUT = 10


def devmcp_env(database_url: str, devauth: Process, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "MANA_AUTH_URL": devauth.url, "APP_ENV": "test", **extra}


@pytest.fixture(scope="session")
def devmcp(database_url: str, devauth: Process) -> Iterator[Process]:
    env = devmcp_env(database_url, devauth)
    with running("devmcp", lambda port: [sys.executable, "-m", "devmcp"], env) as proc:
        yield proc


def reset_listing(devmcp: Process) -> None:
    requests.delete(f"{devmcp.url}/dev/listing", timeout=TIMEOUT).raise_for_status()


@pytest.fixture
def clean_devmcp(devmcp: Process) -> Iterator[Process]:
    """devmcp with no faults registered and its tool list as served, none left behind."""
    reset_listing(devmcp)
    yield from without_faults(devmcp)
    reset_listing(devmcp)
