"""A persona's token is kept between ticks: reused while it outlives a tick, a new login
only when it would not, and a refused login falls back to a held token still valid.
Against the mana-auth stand-in over real HTTP; the cache's clock is a parameter."""

from __future__ import annotations

import uuid
from contextlib import closing

import pytest
import requests

from apibase.client_errors import AuthError
from devstack.processes import Process
from persona_runner.auth_client import AuthClient
from persona_runner.config import RunnerConfig
from persona_runner.password import persona_password
from persona_runner.token_cache import SPARE_SECONDS, TokenCache, expiry
from tests.conftest import SERVICE_KEY
from tests.devauth_fixtures import add_fault

SECRET = "token-cache-test-secret"
LOGIN = "/api/v1/auth/login"
TICK = 600


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def persona(devauth_clear_faults: Process) -> tuple[RunnerConfig, str, str]:
    config = RunnerConfig(auth_url=devauth_clear_faults.url, service_key=SERVICE_KEY, seed_secret=SECRET)
    email = f"token-{uuid.uuid4().hex[:10]}@mana.test"
    password = persona_password(email, SECRET)
    requests.post(
        f"{config.auth_url}/api/v1/auth/register",
        json={"email": email, "password": password, "name": "Token"},
        headers={"X-Service-Key": SERVICE_KEY},
        timeout=10,
    ).raise_for_status()
    return config, email, password


def test_a_held_token_is_reused_while_it_outlives_a_tick(persona, devauth_clear_faults):
    config, email, password = persona
    tokens = TokenCache(keep_for=TICK)
    with closing(AuthClient(config, tokens=tokens)) as auth:
        first = auth.login(email, password)
        add_fault(devauth_clear_faults, LOGIN, status=500, times=5)  # a login now would fail
        assert auth.login(email, password) is first


def test_a_token_that_would_not_outlive_a_tick_is_replaced(persona):
    config, email, password = persona
    first_at = expiry_of(config, email, password)
    clock = Clock(first_at - TICK - SPARE_SECONDS + 1)  # a second too little left
    tokens = TokenCache(keep_for=TICK, clock=clock)
    with closing(AuthClient(config, tokens=tokens)) as auth:
        held = auth.login(email, password)
        clock.now += 1  # the new token is minted now: a second later at least
        assert auth.login(email, password) is not held


def test_a_refused_login_falls_back_to_a_held_token_still_valid_then_not(persona, devauth_clear_faults):
    config, email, password = persona
    expires_at = expiry_of(config, email, password)
    clock = Clock(expires_at - 30)
    tokens = TokenCache(keep_for=TICK, clock=clock)
    with closing(AuthClient(config, tokens=tokens)) as auth:
        held = auth.login(email, password)
        add_fault(devauth_clear_faults, LOGIN, status=401, times=2)
        assert auth.login(email, password) is held  # refused, but the held token has 30 s
        clock.now = expires_at + 1
        with pytest.raises(AuthError):
            auth.login(email, password)


def expiry_of(config: RunnerConfig, email: str, password: str) -> float:
    with closing(AuthClient(config)) as auth:
        exp = expiry(auth.login(email, password).token)
    assert exp is not None
    return exp
