"""The password recipe is a contract shared with runners in other languages: pinned here
by vectors computed independently, plus literal values checked with another tool."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from persona_runner.config import RunnerConfig, seed_secret_from_env
from persona_runner.errors import RunnerConfigError, SeedSecretEmpty, SeedSecretRefused
from persona_runner.password import DEV_SEED_SECRET, persona_password
from tests.support.commands import run_python
from tests.support.originals import ALPHANUMERIC, ORIGINAL_DEV_SECRET, recipe_written_out

ROOT = Path(__file__).resolve().parents[2]

# Checked with another tool:
#   printf '%s' EMAIL | openssl dgst -sha256 -hmac SECRET -binary | base64 | tr -cd 'A-Za-z0-9' | cut -c1-32
LITERAL_VECTORS = [
    ("noah.hoffmann@mana.test", ORIGINAL_DEV_SECRET, "cGLRnqVdnQXBvBcrpFABnXLs80gsbaF3"),
    ("kate.brandt@mana.test", ORIGINAL_DEV_SECRET, "cItZYgTpgM4x0xn1OlrkGunVhnq5SNhV"),
    ("kate.brandt@mana.test", "another-secret", "dBaxP0mcwTwRDv4yYSmMbXmJalJUXeJO"),
    ("tom.nowak@mana.test", "another-secret", "gr28lrMeflIJklpFApOZ2stAURs5gzjK"),
]


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


def test_the_development_secret_is_the_original_clients_one():
    assert DEV_SEED_SECRET == ORIGINAL_DEV_SECRET


def test_without_a_secret_development_falls_back_to_the_development_secret():
    assert seed_secret_from_env({}) == ORIGINAL_DEV_SECRET
    assert seed_secret_from_env({"APP_ENV": "test"}) == ORIGINAL_DEV_SECRET
    assert seed_secret_from_env({"PERSONA_SEED_SECRET": "mine"}) == "mine"
    # Taken exactly as set: the original clients do not trim it either.
    assert seed_secret_from_env({"PERSONA_SEED_SECRET": " mine "}) == " mine "


def test_the_runner_derives_the_original_clients_passwords_with_and_without_a_secret():
    base = {"MANA_SERVICE_KEY": "k"}
    for env, secret in [(base, ORIGINAL_DEV_SECRET), ({**base, "PERSONA_SEED_SECRET": "fleet"}, "fleet")]:
        config = RunnerConfig.from_env(env)
        for email in ("noah.hoffmann@mana.test", "ü@mana.test"):
            assert persona_password(email, config.seed_secret) == recipe_written_out(email, secret)


@pytest.mark.parametrize("app_env", ["development", "test", "production"])
@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_a_set_but_empty_secret_is_an_error_naming_the_variable_never_a_fallback(app_env, value):
    env = {"APP_ENV": app_env, "PERSONA_SEED_SECRET": value, "MANA_SERVICE_KEY": "k"}
    with pytest.raises(SeedSecretEmpty, match="PERSONA_SEED_SECRET is set but empty"):
        seed_secret_from_env(env)
    with pytest.raises(RunnerConfigError, match="PERSONA_SEED_SECRET"):
        RunnerConfig.from_env(env)


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


def test_password_script_prints_the_same_password_as_the_runner():
    done = run_python("scripts/password.py", "tom.nowak@mana.test", PERSONA_SEED_SECRET="s3cr3t")
    assert done.returncode == 0, done.stderr
    assert done.stdout == persona_password("tom.nowak@mana.test", "s3cr3t") + "\n"


def test_password_script_refuses_production_without_a_secret_in_one_line():
    done = run_python("scripts/password.py", "tom.nowak@mana.test", APP_ENV="production")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "PERSONA_SEED_SECRET" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_password_script_without_a_secret_prints_the_original_clients_password():
    done = run_python("scripts/password.py", "noah.hoffmann@mana.test")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "cGLRnqVdnQXBvBcrpFABnXLs80gsbaF3\n"


def test_password_script_refuses_an_empty_secret_in_one_line():
    done = run_python("scripts/password.py", "tom.nowak@mana.test", PERSONA_SEED_SECRET="")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "PERSONA_SEED_SECRET is set but empty" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
