"""The project's commands as an operator types them: each a subprocess from the
repository root, with none of the operator's variables leaking in from the test run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from devstack.postgres import free_port
from devstack.processes import ROOT

# Every variable the scripts and the runner read: a test sets the ones it means.
OPERATOR_ENV = (
    "MANA_API_URL",
    "MANA_AUTH_URL",
    "MANA_ADMIN_JWT",
    "MANA_SERVICE_KEY",
    "PERSONA_SEED_SECRET",
    "APP_ENV",
    "RUNNER_ID",
    "RUNNER_DRIVER",
    "ANTHROPIC_API_KEY",
    "DATABASE_URL",
)
TIMEOUT = 60


def cleaned_env(**env: str | None) -> dict[str, str]:
    """This process's environment without the operator's variables, plus `env`; a
    variable given as None is left unset."""
    clean = {k: v for k, v in os.environ.items() if k not in OPERATOR_ENV}
    return {k: v for k, v in {**clean, **env}.items() if v is not None}


def run_python(*args: str, cwd: Path = ROOT, **env: str | None) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in `cwd` with a cleaned environment and `env`; output captured."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=cleaned_env(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def assert_no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr


def dead_url() -> str:
    """A local address nothing listens on: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


def run_module(
    module: str, *args: str, env: dict[str, str], timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` as a Procfile process runs it (release, prune), with exactly
    `env` and an empty PATH: nothing of the test run's environment reaches it."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={"PATH": "", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
