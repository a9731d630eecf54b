"""The admin gate's key fetches against a stalled or flooded mana-auth, on a live server
whose workers hold no keys yet: the internal routes keep answering all the while."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families

from devstack.processes import Process
from personas.mana_auth import JWKS_PATH
from personas.tokens import JWKS_REFETCH_SECONDS
from tests.conftest import SERVICE_KEY
from tests.devauth_fixtures import add_fault, mint_token
from tests.service.factories import add_persona
from tests.support.auth import bearer
from tests.support.processes import clear_faults, running_web

ADMIN = "/api/v1/personas/admin"
DUE = "/api/v1/personas/internal/due"
FLOODERS = 16
POLLS = 25
POLL_PAUSE = 0.25  # the polls span more than one stalled fetch (read timeout 5 s)
# Longer than the service's read timeout towards mana-auth, so every fetch times out.
STALL_MS = 6000


@pytest.fixture
def keyless_api(service_env: dict[str, str], devauth_clear_faults: Process) -> Iterator[Process]:
    """A fresh server (the Procfile's 2 x 4 threads, default timeouts) that has fetched no keys yet."""
    with running_web("web-jwks", service_env, threads=4) as proc:
        yield proc


def forged_token(claims: dict) -> str:
    """A well-formed token signed by a key of our own, under a kid nobody issued."""
    return jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": uuid.uuid4().hex}
    )


def flood(url: str, claims: dict, stop: threading.Event, statuses: Counter) -> None:
    with requests.Session() as session:
        while not stop.is_set():
            try:
                statuses[
                    session.get(url + ADMIN, headers=bearer(forged_token(claims)), timeout=10).status_code
                ] += 1
            except requests.RequestException as exc:
                statuses[type(exc).__name__] += 1


def poll_due_while_flooded(api: Process, claims: dict) -> tuple[list[int | str], Counter]:
    """POLLS calls to /due, one after another, while FLOODERS threads send forged tokens."""
    stop, flooded = threading.Event(), Counter()
    threads = [threading.Thread(target=flood, args=(api.url, claims, stop, flooded)) for _ in range(FLOODERS)]
    for thread in threads:
        thread.start()
    polled: list[int | str] = []
    try:
        with requests.Session() as session:
            for _ in range(POLLS):
                try:
                    polled.append(
                        session.get(
                            api.url + DUE, headers={"X-Service-Key": SERVICE_KEY}, timeout=10
                        ).status_code
                    )
                except requests.RequestException as exc:
                    polled.append(type(exc).__name__)
                time.sleep(POLL_PAUSE)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return polled, flooded


def jwks_calls(api: Process) -> float:
    """Key fetches the server has attempted, whatever their outcome, summed over workers."""
    text = requests.get(api.url + "/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "personas_upstream_calls_total" and sample.labels.get("step") == "jwks"
    )


def test_a_stalled_key_endpoint_and_a_kid_flood_leave_the_internal_routes_answering_and_keys_load_after(
    keyless_api, devauth, db
):
    add_persona(db, "runner-side")
    token = mint_token(devauth)
    claims = jwt.decode(token, options={"verify_signature": False})
    add_fault(devauth, JWKS_PATH, method="GET", delayMs=STALL_MS, times=1000)

    polled, flooded = poll_due_while_flooded(keyless_api, claims)

    assert polled == [200] * POLLS
    # No key could be loaded: every forged token is refused as "try again", none let in.
    assert set(flooded) == {503}
    # One fetch in flight per worker, retried after each failure: a handful, not one per request.
    assert jwks_calls(keyless_api) * 10 < flooded[503]

    clear_faults(devauth)
    # The stalled fetches end within the read timeout; a failed load is retried a second later.
    answers = []
    deadline = time.monotonic() + 30
    while (not answers or answers[-1].status_code != 200) and time.monotonic() < deadline:
        answers.append(requests.get(keyless_api.url + ADMIN, headers=bearer(token), timeout=10))
        time.sleep(0.1)
    assert answers[-1].status_code == 200
    refused = [a for a in answers if a.status_code != 200]
    assert all(a.status_code == 503 and "signing keys" in a.json()["message"] for a in refused)


def test_once_keys_load_a_kid_flood_costs_at_most_one_refetch_per_worker(keyless_api, devauth, db):
    add_persona(db, "runner-side")
    token = mint_token(devauth)
    # Each worker loads the keys on its first admin request: make sure both have.
    for _ in range(20):
        assert requests.get(keyless_api.url + ADMIN, headers=bearer(token), timeout=10).status_code == 200
    before = jwks_calls(keyless_api)
    claims = jwt.decode(token, options={"verify_signature": False})

    started = time.monotonic()
    polled, flooded = poll_due_while_flooded(keyless_api, claims)
    lasted = time.monotonic() - started

    assert polled == [200] * POLLS
    assert set(flooded) == {401}
    # Two workers, each at most one refetch every JWKS_REFETCH_SECONDS however long the
    # flood lasts (longer on a loaded machine).
    assert jwks_calls(keyless_api) - before <= 2 * (lasted // JWKS_REFETCH_SECONDS + 1)
