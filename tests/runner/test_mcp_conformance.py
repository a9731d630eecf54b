"""The MCP conformance suite's client scenarios against the runner's own MCP client
(`tests/support/conformance_client.py` drives `persona_runner.product`)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from devstack.processes import ROOT
from tests.support.counterparts import counterpart_bin, node22_env

CLIENT = f"{shlex.quote(sys.executable)} -m tests.support.conformance_client"
COLOURS = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("scenario", ["initialize", "tools_call", "sse-retry"])
def test_the_runners_mcp_client_passes_the_conformance_scenario(scenario, tmp_path):
    suite = counterpart_bin("conformance")
    env = {**os.environ, **node22_env(), "PYTHONPATH": str(ROOT)}
    ran = subprocess.run(
        [str(suite), "client", "--command", CLIENT, "--scenario", scenario],
        check=False,
        cwd=tmp_path,  # whatever the suite writes stays out of the repository
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = COLOURS.sub("", ran.stdout + ran.stderr)
    passed = re.search(r"Passed: (\d+)/(\d+), (\d+) failed", output)
    assert ran.returncode == 0, output[-3000:]
    assert passed and passed.group(1) == passed.group(2) and passed.group(3) == "0", output[-3000:]
    assert "OVERALL: PASSED" in output
