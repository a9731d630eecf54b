"""devmcp answers serverInfo.version from DEVMCP_VERSION (default `dev`) and takes
POST /dev/version to change it live, as a deploy would: read with the official MCP client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from devmcp.config import DevMcpConfig
from devstack.processes import Process
from tests.support.mcp import headers_of, mcp_session, new_user, run
from tests.support.standin import TIMEOUT


@pytest.fixture
def versioned(clean_devmcp: Process) -> Iterator[Process]:
    """devmcp, set back to its default version afterwards (the process is the session's)."""
    yield clean_devmcp
    requests.post(f"{clean_devmcp.url}/dev/version", json={"version": "dev"}, timeout=TIMEOUT)


def server_info(devmcp: Process, user) -> tuple[str, str]:
    async def handshake():
        async with mcp_session(devmcp.url, headers_of(user)) as session:
            return session.server_info

    info = run(handshake())
    return info.name, info.version


def test_the_version_is_dev_unless_set_and_a_deploy_changes_it_for_new_sessions(versioned, devauth):
    user = new_user(devauth)
    assert server_info(versioned, user) == ("devmcp", "dev")
    response = requests.post(f"{versioned.url}/dev/version", json={"version": "2.0.0"}, timeout=TIMEOUT)
    assert response.status_code == 204
    assert server_info(versioned, user) == ("devmcp", "2.0.0")


@pytest.mark.parametrize("body", [{}, {"version": ""}, {"version": 2}, {"version": "v" * 201}, ["2.0"]])
def test_a_bad_version_is_400_naming_it_and_changes_nothing(versioned, devauth, body):
    response = requests.post(f"{versioned.url}/dev/version", json=body, timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["details"] == [{"field": "version"}]
    assert server_info(versioned, new_user(devauth))[1] == "dev"


def test_devmcp_version_comes_from_the_environment():
    env = {"DATABASE_URL": "postgresql://u@h/db", "DEVMCP_MODULES": "todo", "APP_ENV": "test"}
    assert DevMcpConfig.from_env(env).version == "dev"
    assert DevMcpConfig.from_env({**env, "DEVMCP_VERSION": "1.4.2"}).version == "1.4.2"
