"""`python -m persona_runner --once` as an operator runs it, for what needs no server,
and the package's promise to stand apart from the service."""

from __future__ import annotations

import pytest

from tests.support.commands import dead_url, run_python


def test_dead_api_gives_one_clear_line_and_exit_2():
    url = dead_url()
    done = run_python("-m", "persona_runner", "--once", MANA_SERVICE_KEY="key", MANA_API_URL=url)
    assert done.returncode == 2
    assert done.stdout.strip().splitlines() == [
        f"tick: cannot get due personas from {url}: POST {url}/api/v1/personas/internal/claims: "
        "[Errno 111] Connection refused"
    ]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "MANA_SERVICE_KEY"),
        ({"MANA_SERVICE_KEY": "key", "APP_ENV": "production"}, "PERSONA_SEED_SECRET"),
        ({"MANA_SERVICE_KEY": "key", "RUNNER_DRIVER": "claude"}, "ANTHROPIC_API_KEY"),
        ({"MANA_SERVICE_KEY": "key", "RUNNER_DRIVER": "gpt"}, "RUNNER_DRIVER"),
        ({"MANA_SERVICE_KEY": "key", "PERSONA_SEED_SECRET": ""}, "PERSONA_SEED_SECRET is set but empty"),
    ],
    ids=[
        "no-service-key",
        "production-without-seed-secret",
        "claude-without-api-key",
        "unknown-driver",
        "empty-seed-secret",
    ],
)
def test_a_missing_or_bad_setting_refuses_to_start_naming_the_variable(env, named):
    done = run_python("-m", "persona_runner", "--once", **env)
    assert done.returncode == 2
    assert named in done.stderr and "Traceback" not in done.stderr


def test_without_once_the_runner_says_what_it_does():
    done = run_python("-m", "persona_runner", MANA_SERVICE_KEY="key")
    assert done.returncode == 2
    assert "--once" in done.stderr and "serve" in done.stderr


def test_runner_package_imports_nothing_of_the_service():
    code = (
        "import sys, persona_runner.__main__, persona_runner.tick\n"
        "service = ('personas', 'config', 'devauth', 'scripts')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in service)\n"
        "print(','.join(bad))\n"
    )
    done = run_python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
