"""`python -m persona_runner --once` as an operator runs it, for what needs no server,
and the package's promise to stand apart from the service."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER_ENV = (
    "MANA_API_URL",
    "MANA_AUTH_URL",
    "MANA_SERVICE_KEY",
    "PERSONA_SEED_SECRET",
    "APP_ENV",
    "RUNNER_ID",
    "RUNNER_DRIVER",
    "ANTHROPIC_API_KEY",
)


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in RUNNER_ENV}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_dead_api_gives_one_clear_line_and_exit_2():
    url = dead_url()
    done = run("-m", "persona_runner", "--once", MANA_SERVICE_KEY="key", MANA_API_URL=url)
    assert done.returncode == 2
    assert done.stdout.strip().splitlines() == [
        f"tick: cannot get due personas from {url}: POST {url}/api/v1/personas/internal/claims: "
        "[Errno 111] Connection refused"
    ]
    assert "Traceback" not in done.stderr


def test_without_a_service_key_the_runner_refuses_to_start():
    done = run("-m", "persona_runner", "--once")
    assert done.returncode == 2
    assert "MANA_SERVICE_KEY" in done.stderr and "Traceback" not in done.stderr


def test_production_without_a_seed_secret_refuses_to_start():
    done = run("-m", "persona_runner", "--once", MANA_SERVICE_KEY="key", APP_ENV="production")
    assert done.returncode == 2
    assert "PERSONA_SEED_SECRET" in done.stderr and "Traceback" not in done.stderr


def test_the_claude_driver_without_an_api_key_refuses_to_start():
    done = run("-m", "persona_runner", "--once", MANA_SERVICE_KEY="key", RUNNER_DRIVER="claude")
    assert done.returncode == 2
    assert "ANTHROPIC_API_KEY" in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_driver_is_refused_naming_the_variable():
    done = run("-m", "persona_runner", "--once", MANA_SERVICE_KEY="key", RUNNER_DRIVER="gpt")
    assert done.returncode == 2
    assert "RUNNER_DRIVER" in done.stderr and "Traceback" not in done.stderr


def test_an_empty_seed_secret_refuses_to_start_naming_the_variable():
    done = run("-m", "persona_runner", "--once", MANA_SERVICE_KEY="key", PERSONA_SEED_SECRET="")
    assert done.returncode == 2
    assert "PERSONA_SEED_SECRET is set but empty" in done.stderr and "Traceback" not in done.stderr


def test_without_once_the_runner_says_what_it_does():
    done = run("-m", "persona_runner", MANA_SERVICE_KEY="key")
    assert done.returncode == 2
    assert "--once" in done.stderr and "serve" in done.stderr


def test_runner_package_imports_nothing_of_the_service():
    code = (
        "import sys, persona_runner.__main__, persona_runner.tick\n"
        "service = ('personas', 'config', 'devauth', 'scripts')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in service)\n"
        "print(','.join(bad))\n"
    )
    done = run("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
