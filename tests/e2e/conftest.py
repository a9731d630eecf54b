"""Fixtures for the operator's path: the catalog, a clean stand-in, a seeded stack,
and a faulty proxy in front of the live API."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from devstack.processes import Process
from scripts.catalog import CatalogPersona, load_catalog
from tests.e2e.operator import run_script
from tests.e2e.proxy import FaultyProxy
from tests.service.factories import persona_ids
from tests.support.standin import forget_stand_in_users

HTTP_TIMEOUT = 10


@pytest.fixture(scope="module")
def catalog() -> list[CatalogPersona]:
    return load_catalog()


@pytest.fixture(scope="module", autouse=True)
def stand_in_without_catalog_users(devauth: Process, catalog: list[CatalogPersona]) -> None:
    """The stand-in keeps users across tests; these tests register the catalog's with
    their own seed secret, so none may be left from another one."""
    forget_stand_in_users(devauth, [p.email for p in catalog])


@pytest.fixture
def seeded(db: psycopg.Connection, live_api: Process, devauth: Process, admin_token: str) -> dict[str, str]:
    """The catalog seeded through the live API, and its pair spaces made in the stand-in, as
    an operator does it; email -> user id."""
    done = run_script(
        "seed.py", f"--api={live_api.url}", f"--jwt={admin_token}", f"--mana-auth={devauth.url}"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return persona_ids(db)


@pytest.fixture
def proxy(live_api: Process) -> Iterator[FaultyProxy]:
    gateway = FaultyProxy(live_api.url)
    yield gateway
    gateway.close()
