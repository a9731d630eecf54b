"""seed.py and cleanup.py as an operator runs them (`python scripts/seed.py ...`), for
what needs no server: dry runs, a dead server, missing or bad input. Against the live
API and the mana-auth stand-in they are tested end to end elsewhere."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devstack.processes import ROOT
from persona_runner.password import DEV_SEED_SECRET, persona_password
from scripts.catalog import load_catalog
from tests.support import commands
from tests.support.commands import assert_no_traceback, run_python

SCRIPTS = ROOT / "scripts"
# The catalog's five pairs, each space's slug: its type and both local parts, sorted.
PAIR_SLUGS = [
    "family-lena-hoffmann-noah-hoffmann",
    "family-kate-brandt-walter-brandt",
    "team-jonas-weber-mateo-silva",
    "team-amara-okafor-priya-raman",
    "family-elif-demir-tom-nowak",
]


def run(script: str, *args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """`python scripts/<script> ARGS` from the root, or by its full path from elsewhere."""
    return run_python(str(SCRIPTS / script) if cwd != ROOT else f"scripts/{script}", *args, cwd=cwd, **env)


@pytest.fixture(scope="module")
def emails() -> list[str]:
    return [p.email for p in load_catalog()]


@pytest.fixture
def dead_url() -> str:
    return commands.dead_url()


def test_seed_dry_run_lists_each_persona_and_space_and_a_summary_and_sends_nothing(emails, dead_url):
    done = run("seed.py", "--dry-run", f"--api={dead_url}", f"--mana-auth={dead_url}/auth")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(emails) + 5 + 1
    for line, email in zip(lines, emails, strict=False):
        assert line.startswith("would upsert") and email in line
    assert [line.split()[:4] for line in lines[len(emails) : -1]] == [
        ["would", "make", "space", slug] for slug in PAIR_SLUGS
    ]
    assert "10 personas" in lines[-1] and "nothing was sent" in lines[-1] and dead_url in lines[-1]
    assert f"5 shared spaces made at {dead_url}/auth" in lines[-1]
    assert done.stderr == ""


def test_seed_dry_run_with_no_spaces_lists_no_space():
    done = run("seed.py", "--dry-run", "--no-spaces")
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stdout.splitlines() if "space" in line]


def test_seed_takes_the_mana_auth_url_from_the_environment_and_refuses_one_that_is_not_http():
    done = run("seed.py", "--dry-run", MANA_AUTH_URL="http://auth.example:3001")
    assert "made at http://auth.example:3001;" in done.stdout.splitlines()[-1]
    refused = run("seed.py", "--dry-run", "--mana-auth=auth.example:3001")
    assert refused.returncode == 2 and "--mana-auth must be an http(s) URL" in refused.stderr


def test_seed_dry_run_never_prints_a_password(emails):
    done = run("seed.py", "--dry-run")
    assert all(persona_password(email, DEV_SEED_SECRET) not in done.stdout for email in emails)


def test_seed_runs_from_any_working_directory(tmp_path):
    done = run("seed.py", "--dry-run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "http://localhost:3060" in done.stdout.splitlines()[-1]


def test_seed_takes_the_api_url_from_the_environment():
    done = run("seed.py", "--dry-run", MANA_API_URL="http://api.example:9999")
    assert "http://api.example:9999" in done.stdout.splitlines()[-1]


def test_cleanup_dry_run_lists_each_catalog_persona_and_a_summary(emails):
    done = run("cleanup.py", "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(emails) + 1
    for line, email in zip(lines, emails, strict=False):
        assert line.startswith("would delete") and email in line
    assert "nothing was sent" in lines[-1]


@pytest.mark.parametrize("script", ["seed.py", "cleanup.py"])
def test_dead_server_gives_one_clear_line_and_a_failure_exit(script, dead_url):
    done = run(script, f"--api={dead_url}", "--jwt=some-admin-token")
    assert done.returncode == 1
    assert_no_traceback(done)
    message = done.stderr.strip().splitlines()
    assert len(message) == 1
    assert "cannot reach the personas API" in message[0] and dead_url in message[0]


@pytest.mark.parametrize("script", ["seed.py", "cleanup.py"])
def test_legacy_auth_flag_still_works_with_a_deprecation_note(script, dead_url):
    done = run(script, f"--auth={dead_url}", "--dry-run")
    assert done.returncode == 0
    assert "--auth is deprecated" in done.stderr and "--api" in done.stderr
    assert dead_url in done.stdout.splitlines()[-1]


def test_api_flag_wins_over_the_legacy_auth_flag(dead_url):
    done = run("seed.py", "--api=http://api.example:1", f"--auth={dead_url}", "--dry-run")
    assert "http://api.example:1" in done.stdout.splitlines()[-1]
    assert "ignored" in done.stderr


@pytest.mark.parametrize("script", ["seed.py", "cleanup.py"])
def test_without_an_admin_token_nothing_is_sent_and_the_fix_is_named(script, dead_url):
    done = run(script, f"--api={dead_url}")
    assert done.returncode == 2
    assert "MANA_ADMIN_JWT" in done.stderr and "--jwt" in done.stderr
    assert_no_traceback(done)


def test_seed_takes_the_admin_token_from_the_environment(dead_url):
    done = run("seed.py", f"--api={dead_url}", MANA_ADMIN_JWT="from-env")
    assert done.returncode == 1  # it got past the token check and tried the (dead) server
    assert "cannot reach" in done.stderr


def test_seed_with_a_broken_catalog_names_the_problem_and_sends_nothing(tmp_path, dead_url):
    broken = tmp_path / "catalog.json"
    broken.write_text('{"personas": [{"email": "someone@example.com"}]}', encoding="utf-8")
    done = run("seed.py", "--catalog", str(broken), f"--api={dead_url}", "--jwt=x")
    assert done.returncode == 2
    assert "personas[0] <someone@example.com>: email:" in done.stderr
    assert "cannot reach" not in done.stderr
    assert_no_traceback(done)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"APP_ENV": "production"}, "PERSONA_SEED_SECRET"),
        ({"PERSONA_SEED_SECRET": ""}, "PERSONA_SEED_SECRET is set but empty"),
    ],
    ids=["production-without-seed-secret", "empty-seed-secret"],
)
def test_seed_with_no_usable_seed_secret_refuses_before_sending(dead_url, env, named):
    done = run("seed.py", f"--api={dead_url}", "--jwt=x", **env)
    assert done.returncode == 2
    assert named in done.stderr
    assert "cannot reach" not in done.stderr
    assert_no_traceback(done)


def test_seed_refuses_an_api_url_that_is_not_http():
    done = run("seed.py", "--api=localhost:3060", "--dry-run")
    assert done.returncode == 2
    assert "http(s) URL" in done.stderr
