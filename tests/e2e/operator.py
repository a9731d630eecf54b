"""The commands as an operator types them in the end-to-end tests: the scripts and the
runner, each a subprocess with only the environment the operator would set."""

from __future__ import annotations

import subprocess

from tests.support.commands import run_python

# One explicit secret for every seed, runner and login in these tests: the stand-in
# keeps the passwords it was registered with, so mixing secrets would lock personas out.
SEED_SECRET = "e2e-seed-secret-not-the-development-one"


def run_script(script: str, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """`python scripts/<script> ARGS`, from the repository root."""
    return run_python(f"scripts/{script}", *args, **{"PERSONA_SEED_SECRET": SEED_SECRET, **env})


def run_runner(
    api_url: str, auth_url: str, service_key: str, *args: str, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """`python -m persona_runner --once ARGS` with the runner's four variables."""
    runner_env = {"MANA_API_URL": api_url, "MANA_AUTH_URL": auth_url, "MANA_SERVICE_KEY": service_key}
    return run_python(
        "-m", "persona_runner", "--once", *args, **{"PERSONA_SEED_SECRET": SEED_SECRET, **runner_env, **env}
    )
