"""Fixtures for the mana-auth stand-in: the stand-in itself under gunicorn, tokens it
signs, and faults it injects, for every test that goes through mana-auth over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devauth.passwords import COST_MIN
from devstack.postgres import free_port
from devstack.processes import Process
from tests.support.counterparts import better_auth_command
from tests.support.processes import running, running_gunicorn, without_faults

TIMEOUT = 10


def mint_token(devauth: Process, **claims: Any) -> str:
    """A token from POST /dev/token; `claims` is its body (role defaults to admin)."""
    response = requests.post(f"{devauth.url}/dev/token", json={"role": "admin", **claims}, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()["token"]


def add_fault(devauth: Process, path: str, **fault: Any) -> None:
    """Register a fault (POST /dev/faults): `method`, `status`, `delayMs`, `times`."""
    response = requests.post(f"{devauth.url}/dev/faults", json={"path": path, **fault}, timeout=TIMEOUT)
    response.raise_for_status()


def change_settings(devauth: Process, **settings: Any) -> dict:
    """Flip the stand-in's development switches (POST /dev/settings); its answer."""
    response = requests.post(f"{devauth.url}/dev/settings", json=settings, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="session")
def devauth(database_url: str) -> Iterator[Process]:
    """The stand-in under gunicorn (two workers, so what they share is proven shared),
    configured with the suite's service key; its `iss` is its own URL."""
    from tests.conftest import SERVICE_KEY

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "DATABASE_URL": database_url,
        "MANA_SERVICE_KEY": SERVICE_KEY,
        "MANA_AUTH_URL": url,
        "APP_ENV": "test",
        # The suite registers thousands of users: the cheapest hash the stand-in allows.
        "DEVAUTH_PASSWORD_COST": str(COST_MIN),
    }

    options = ("--access-logfile", "-")
    with running_gunicorn("devauth", "devauth.app:app", env, options=options, port=port) as proc:
        yield proc


@pytest.fixture(scope="session")
def better_auth() -> Iterator[Process]:
    """A stock Better Auth (organization, bearer, jwt; in memory) that devauth's
    organization routes are held against; started once, on a free loopback port."""
    command = better_auth_command()
    with running("better-auth", lambda _port: command, {}) as proc:
        yield proc


@pytest.fixture
def devauth_clear_faults(devauth: Process) -> Iterator[Process]:
    """The stand-in with no faults registered, and none left behind after the test."""
    yield from without_faults(devauth)


@pytest.fixture
def admin_token(devauth: Process) -> str:
    """A fresh admin token (the default development user), signed with the current key."""
    return mint_token(devauth, role="admin")


@pytest.fixture
def devauth_verifying_emails(devauth: Process) -> Iterator[Process]:
    """The stand-in answering as a mana-auth with email verification on, for one test."""
    change_settings(devauth, requireEmailVerification=True)
    yield devauth
    change_settings(devauth, requireEmailVerification=False)
