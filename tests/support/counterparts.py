"""The real services from the npm registry that the stand-ins are held against
(`tests/counterparts/package.json`: stock Better Auth, the MCP reference server, the MCP
conformance suite and the Node 22 it needs). `scripts/test.sh` installs them; without
them (no `npm`, no registry) their tests are skipped with a message saying so, except
under CI, where a missing counterpart is a failure."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from devstack.postgres import free_port
from devstack.processes import Process
from tests.support.processes import ARTIFACTS

COUNTERPARTS = Path(__file__).resolve().parent.parent / "counterparts"
NODE_MODULES = COUNTERPARTS / "node_modules"


BETTER_AUTH_SERVER = COUNTERPARTS / "better_auth_server.mjs"


def _installed(path: Path, name: str) -> Path:
    """`path`, or the test is skipped (failed under CI) saying what is missing."""
    if not path.exists():
        reason = f"tests/counterparts has no {name}: `bash scripts/test.sh` installs it (npm ci there)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def counterpart_bin(name: str) -> Path:
    """`node_modules/.bin/<name>`, or the test is skipped (failed under CI) saying why."""
    return _installed(NODE_MODULES / ".bin" / name, name)


def better_auth_command() -> list[str]:
    """Our script that serves a stock Better Auth on $PORT, run by the Node of the `node`
    package (Better Auth runs on Node 20 too; one Node for every counterpart)."""
    _installed(NODE_MODULES / "better-auth" / "package.json", "better-auth")
    return [str(counterpart_bin("node")), str(BETTER_AUTH_SERVER)]


def node22_env() -> dict[str, str]:
    """PATH with the Node 22 binary of the `node` package first (the conformance suite needs it)."""
    counterpart_bin("node")
    return {"PATH": f"{NODE_MODULES / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


@contextmanager
def reference_mcp_server() -> Iterator[Process]:
    """The official MCP reference server (`mcp-server-everything streamableHttp`) on a free
    port: Streamable HTTP at `/mcp`, no authentication. Its log is artifacts/mcp-everything.log."""
    binary = counterpart_bin("mcp-server-everything")
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "mcp-everything.log"
    proc = Process(
        "mcp-everything", [str(binary), "streamableHttp"], node22_env(), free_port(), log_path=log_path
    )
    try:
        yield wait_answering(proc, "/mcp")
    finally:
        proc.stop()


def wait_answering(proc: Process, path: str, timeout: float = 30) -> Process:
    """`proc` once `path` answers at all: the reference server has no health route, and
    its `/mcp` refuses a bare GET (400) as soon as it listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}; see {proc.log_path}")
        try:
            requests.get(proc.url + path, timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.1)
    raise TimeoutError(f"{proc.name} did not answer on {proc.url}{path}")
