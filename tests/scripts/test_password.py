"""The password recipe is a contract shared with runners in other languages: pinned here
by vectors computed independently, plus literal values checked with another tool."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import string
import subprocess
import sys
from pathlib import Path

import pytest

from persona_runner.config import RunnerConfig, seed_secret_from_env
from persona_runner.errors import SeedSecretRefused
from persona_runner.password import DEV_SEED_SECRET, persona_password

ROOT = Path(__file__).resolve().parents[2]
ALPHANUMERIC = set(string.ascii_letters + string.digits)

# Checked with another tool:
#   printf '%s' EMAIL | openssl dgst -sha256 -hmac SECRET -binary | base64 | tr -cd 'A-Za-z0-9' | cut -c1-32
LITERAL_VECTORS = [
    ("noah.hoffmann@mana.test", DEV_SEED_SECRET, "4gKDO1on7QxOROOqXxgr3blTa0J3LANV"),
    ("kate.brandt@mana.test", "another-secret", "dBaxP0mcwTwRDv4yYSmMbXmJalJUXeJO"),
    # Its base64 is 58VIglprQF+B69JjCCCqH/vbEyKiYG7czV...: the '+' and '/' must go.
    ("tom.nowak@mana.test", DEV_SEED_SECRET, "58VIglprQFB69JjCCCqHvbEyKiYG7czV"),
]


def recipe_written_out(email: str, secret: str) -> str:
    """The contract's words, one step each, independent of the implementation."""
    digest = hmac.digest(secret.encode(), email.encode(), "sha256")
    encoded = base64.standard_b64encode(digest).decode()
    kept = "".join(ch for ch in encoded if ch in ALPHANUMERIC)
    return kept[:32]


@pytest.mark.parametrize(("email", "secret", "expected"), LITERAL_VECTORS)
def test_password_matches_the_literal_vectors(email, secret, expected):
    assert persona_password(email, secret) == expected


@pytest.mark.parametrize(
    "email", ["noah.hoffmann@mana.test", "walter.brandt@mana.test", "someone+tag@mana.test", "ü@mana.test"]
)
@pytest.mark.parametrize("secret", [DEV_SEED_SECRET, "s3cr3t", "a much longer production secret " * 4])
def test_password_equals_the_recipe_written_out(email, secret):
    assert persona_password(email, secret) == recipe_written_out(email, secret)


def test_password_is_32_alphanumeric_characters_and_deterministic():
    password = persona_password("priya.raman@mana.test", "s3cr3t")
    assert len(password) == 32
    assert set(password) <= ALPHANUMERIC
    assert persona_password("priya.raman@mana.test", "s3cr3t") == password


def test_password_depends_on_the_secret_and_on_the_exact_email():
    base = persona_password("elif.demir@mana.test", "one")
    assert persona_password("elif.demir@mana.test", "two") != base
    assert persona_password("Elif.Demir@mana.test", "one") != base
    hmac_direct = hmac.new(b"one", b"elif.demir@mana.test", hashlib.sha256).digest()
    assert base64.b64encode(hmac_direct).decode().replace("+", "").replace("/", "")[:32] == base


def test_without_a_secret_development_falls_back_to_the_development_secret():
    assert seed_secret_from_env({}) == DEV_SEED_SECRET
    assert seed_secret_from_env({"APP_ENV": "test", "PERSONA_SEED_SECRET": ""}) == DEV_SEED_SECRET
    assert seed_secret_from_env({"PERSONA_SEED_SECRET": "mine"}) == "mine"


def test_production_refuses_the_development_secret():
    with pytest.raises(SeedSecretRefused, match="PERSONA_SEED_SECRET"):
        seed_secret_from_env({"APP_ENV": "production"})
    with pytest.raises(SeedSecretRefused):
        RunnerConfig.from_env({"APP_ENV": "production", "MANA_SERVICE_KEY": "k"})


def test_production_with_a_secret_uses_it():
    assert seed_secret_from_env({"APP_ENV": "production", "PERSONA_SEED_SECRET": "prod"}) == "prod"
    env = {"APP_ENV": "production", "MANA_SERVICE_KEY": "key-0123", "PERSONA_SEED_SECRET": "seed-4567"}
    config = RunnerConfig.from_env(env)
    assert config.seed_secret == "seed-4567"
    assert "seed-4567" not in repr(config) and "key-0123" not in repr(config)


def run_password_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PERSONA_SEED_SECRET", "APP_ENV")}
    return subprocess.run(
        [sys.executable, "scripts/password.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_password_script_prints_the_same_password_as_the_runner():
    done = run_password_script("tom.nowak@mana.test", PERSONA_SEED_SECRET="s3cr3t")
    assert done.returncode == 0, done.stderr
    assert done.stdout == persona_password("tom.nowak@mana.test", "s3cr3t") + "\n"


def test_password_script_refuses_production_without_a_secret_in_one_line():
    done = run_password_script("tom.nowak@mana.test", APP_ENV="production")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "PERSONA_SEED_SECRET" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
