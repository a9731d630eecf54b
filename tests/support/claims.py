"""The internal API's due list and claims, as a runner calls them: through the Flask test
client, or against a running server over HTTP."""

from __future__ import annotations

import requests

from tests.conftest import SERVICE_KEY

INTERNAL = "/api/v1/personas/internal"


def claim(client, headers, runner: str = "runner-a", **options) -> dict:
    response = client.post(f"{INTERNAL}/claims", json={"runnerId": runner, **options}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def claimed_ids(client, headers, runner: str = "runner-a", **options) -> list[str]:
    return [p["userId"] for p in claim(client, headers, runner, **options)["personas"]]


def due_ids(client, headers) -> list[str]:
    return [p["userId"] for p in client.get(f"{INTERNAL}/due", headers=headers).get_json()["personas"]]


def claim_until_empty(base_url: str, runner: str, limit: int) -> list[tuple[str, str]]:
    """Claim again and again until a claim comes back empty; (persona, leaseUntil) pairs.
    Module-level, so that processes started by multiprocessing can run it too."""
    got: list[tuple[str, str]] = []
    with requests.Session() as session:
        while True:
            response = session.post(
                f"{base_url}{INTERNAL}/claims",
                json={"runnerId": runner, "limit": limit, "leaseSeconds": 600},
                headers={"X-Service-Key": SERVICE_KEY},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            personas = response.json()["personas"]
            if not personas:
                return got
            got.extend((p["userId"], response.json()["leaseUntil"]) for p in personas)
