"""Fixtures for the operator's path: the catalog, a clean stand-in, a seeded stack,
and a faulty proxy in front of the live API."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import requests

from devstack.processes import Process
from scripts.catalog import CatalogPersona, load_catalog
from tests.conftest import SERVICE_KEY
from tests.devauth_fixtures import mint_token
from tests.e2e.operator import run_script
from tests.e2e.proxy import FaultyProxy

HTTP_TIMEOUT = 10


@pytest.fixture(scope="module")
def catalog() -> list[CatalogPersona]:
    return load_catalog()


def forget_stand_in_users(devauth: Process, emails: list[str]) -> None:
    """Delete these users from the stand-in directly, as if they had never registered."""
    headers = {
        "X-Service-Key": SERVICE_KEY,
        "Authorization": f"Bearer {mint_token(devauth, role='admin')}",
    }
    with requests.Session() as http:
        http.headers.update(headers)
        for email in emails:
            found = http.get(
                f"{devauth.url}/api/v1/admin/users", params={"search": email}, timeout=HTTP_TIMEOUT
            )
            found.raise_for_status()
            for user in found.json()["users"]:
                if user["email"].lower() == email.lower():
                    url = f"{devauth.url}/api/v1/admin/users/{user['id']}/data"
                    http.delete(url, timeout=HTTP_TIMEOUT).raise_for_status()


@pytest.fixture(scope="module", autouse=True)
def stand_in_without_catalog_users(devauth: Process, catalog: list[CatalogPersona]) -> None:
    """The stand-in keeps users across tests; these tests register the catalog's with
    their own seed secret, so none may be left from another one."""
    forget_stand_in_users(devauth, [p.email for p in catalog])


def persona_ids(db: psycopg.Connection) -> dict[str, str]:
    """email -> user id of every personas row."""
    return dict(db.execute("SELECT email, user_id FROM personas.personas").fetchall())


@pytest.fixture
def seeded(db: psycopg.Connection, live_api: Process, admin_token: str) -> dict[str, str]:
    """The catalog seeded through the live API, as an operator does it; email -> user id."""
    done = run_script("seed.py", f"--api={live_api.url}", f"--jwt={admin_token}")
    assert done.returncode == 0, done.stdout + done.stderr
    return persona_ids(db)


@pytest.fixture
def proxy(live_api: Process) -> Iterator[FaultyProxy]:
    gateway = FaultyProxy(live_api.url)
    yield gateway
    gateway.close()
