"""The real services from the npm registry that the stand-ins are held against
(`tests/counterparts/package.json`: stock Better Auth, the MCP reference server, the MCP
conformance suite and the Node 22 it needs). `scripts/test.sh` installs them; without
them (no `npm`, no registry) their tests are skipped with a message saying so, except
under CI, where a missing counterpart is a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
