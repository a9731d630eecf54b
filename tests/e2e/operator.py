"""The commands as an operator types them: the scripts and the runner, each a subprocess
with only the environment the operator would set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# One explicit secret for every seed, runner and login in these tests: the stand-in
# keeps the passwords it was registered with, so mixing secrets would lock personas out.
SEED_SECRET = "e2e-seed-secret-not-the-development-one"
OPERATOR_ENV = (
    "MANA_API_URL",
    "MANA_AUTH_URL",
    "MANA_ADMIN_JWT",
    "MANA_SERVICE_KEY",
    "PERSONA_SEED_SECRET",
    "APP_ENV",
    "RUNNER_ID",
    "DATABASE_URL",
)
TIMEOUT = 60


def operator_env(**env: str | None) -> dict[str, str]:
    """The operator's environment; a variable given as None is left unset."""
    clean = {k: v for k, v in os.environ.items() if k not in OPERATOR_ENV}
    merged = {**clean, "PERSONA_SEED_SECRET": SEED_SECRET, **env}
    return {k: v for k, v in merged.items() if v is not None}


def run_script(script: str, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """`python scripts/<script> ARGS`, from the repository root."""
    return subprocess.run(
        [sys.executable, f"scripts/{script}", *args],
        cwd=ROOT,
        env=operator_env(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def run_runner(
    api_url: str, auth_url: str, service_key: str, *args: str, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """`python -m persona_runner --once ARGS` with the runner's four variables."""
    return subprocess.run(
        [sys.executable, "-m", "persona_runner", "--once", *args],
        cwd=ROOT,
        env=operator_env(MANA_API_URL=api_url, MANA_AUTH_URL=auth_url, MANA_SERVICE_KEY=service_key, **env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def assert_no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
