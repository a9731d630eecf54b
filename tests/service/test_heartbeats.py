"""Lease heartbeats, and feedback that ends only its own runner's lease."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.conftest import SERVICE_KEY
from tests.service.factories import add_persona, lease_of, set_lease

BASE = "/api/v1/personas/internal"


def heartbeat(client, headers, persona: str = "p1", runner: str = "runner-a", **options):
    return client.post(
        f"{BASE}/claims/{persona}/heartbeat", json={"runnerId": runner, **options}, headers=headers
    )


def claim(client, headers, runner: str = "runner-a", **options) -> dict:
    response = client.post(f"{BASE}/claims", json={"runnerId": runner, **options}, headers=headers)
    assert response.status_code == 200
    return response.get_json()


def test_the_holder_extends_its_live_lease(client, db, internal_headers):
    add_persona(db, "p1")
    claim(client, internal_headers, leaseSeconds=30)
    response = heartbeat(client, internal_headers, leaseSeconds=900)
    assert response.status_code == 200
    until = datetime.fromisoformat(response.get_json()["leaseUntil"])
    assert timedelta(seconds=850) < until - datetime.now(UTC) <= timedelta(seconds=900)
    assert lease_of(db, "p1") == ("runner-a", until)
    default = heartbeat(client, internal_headers)
    assert default.status_code == 200
    until = datetime.fromisoformat(default.get_json()["leaseUntil"])
    assert timedelta(seconds=550) < until - datetime.now(UTC) <= timedelta(seconds=600)


def test_another_runners_live_lease_is_409_and_stays(client, db, internal_headers):
    add_persona(db, "p1")
    claim(client, internal_headers, "runner-a")
    before = lease_of(db, "p1")
    response = heartbeat(client, internal_headers, runner="runner-b")
    assert response.status_code == 409
    assert response.get_json()["error"] == "Conflict"
    assert lease_of(db, "p1") == before


@pytest.mark.parametrize("lease", ["never-claimed", "released", "expired", "no-persona"])
def test_no_live_lease_is_404_and_none_is_revived(client, db, internal_headers, lease):
    if lease != "no-persona":
        add_persona(db, "p1")
    if lease == "released":
        claim(client, internal_headers)
        assert (
            client.delete(
                f"{BASE}/claims/p1", query_string={"runnerId": "runner-a"}, headers=internal_headers
            ).status_code
            == 204
        )
    if lease == "expired":
        set_lease(db, "p1", "runner-a", datetime.now(UTC) - timedelta(seconds=1))
    before = lease_of(db, "p1") if lease != "no-persona" else None
    response = heartbeat(client, internal_headers)
    assert response.status_code == 404
    assert response.get_json()["error"] == "NotFound"
    if before is not None:
        assert lease_of(db, "p1") == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "runnerId"),
        ({"runnerId": ""}, "runnerId"),
        ({"runnerId": "r" * 201}, "runnerId"),
        ({"runnerId": "a\x00"}, "runnerId"),
        ({"runnerId": "runner-a", "leaseSeconds": 4}, "leaseSeconds"),
        ({"runnerId": "runner-a", "leaseSeconds": 3601}, "leaseSeconds"),
        ({"runnerId": "runner-a", "leaseSeconds": "60"}, "leaseSeconds"),
        ({"runnerId": "runner-a", "leaseSeconds": 6.5}, "leaseSeconds"),
    ],
)
def test_bad_heartbeats_are_400_naming_the_field(client, db, internal_headers, body, field):
    add_persona(db, "p1")
    claim(client, internal_headers, leaseSeconds=30)
    before = lease_of(db, "p1")
    response = client.post(f"{BASE}/claims/p1/heartbeat", json=body, headers=internal_headers)
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == field
    assert lease_of(db, "p1") == before


def test_heartbeats_sit_behind_the_service_key(client, db, internal_headers):
    add_persona(db, "p1")
    claim(client, internal_headers, leaseSeconds=30)
    before = lease_of(db, "p1")
    assert heartbeat(client, {"X-Service-Key": "nope"}, leaseSeconds=900).status_code == 401
    assert lease_of(db, "p1") == before


# --- feedback with a runnerId -------------------------------------------------------------

RATING = {"tickId": "tick-1", "module": "todo", "rating": 4}


def test_feedback_with_the_holders_runner_id_ends_its_lease(client, db, internal_headers):
    add_persona(db, "p1")
    claim(client, internal_headers, "runner-a")
    body = {"feedback": [RATING], "runnerId": "runner-a"}
    assert client.post(f"{BASE}/p1/feedback", json=body, headers=internal_headers).status_code == 200
    assert lease_of(db, "p1") == (None, None)


def test_feedback_from_another_runner_leaves_the_live_lease_alone(client, db, internal_headers):
    add_persona(db, "p1")
    claim(client, internal_headers, "runner-b")
    before = lease_of(db, "p1")
    body = {"feedback": [RATING], "runnerId": "runner-a"}
    response = client.post(f"{BASE}/p1/feedback", json=body, headers=internal_headers)
    assert response.status_code == 200
    assert response.get_json()["new"] == 1
    assert lease_of(db, "p1") == before


def test_feedback_without_a_runner_id_ends_whichever_lease(client, db, internal_headers):
    add_persona(db, "p1")
    claim(client, internal_headers, "runner-b")
    response = client.post(f"{BASE}/p1/feedback", json={"feedback": [RATING]}, headers=internal_headers)
    assert response.status_code == 200
    assert lease_of(db, "p1") == (None, None)


@pytest.mark.parametrize("runner", ["", "r" * 201, 7])
def test_a_bad_feedback_runner_id_is_400_and_writes_nothing(client, db, internal_headers, runner):
    add_persona(db, "p1")
    claim(client, internal_headers, "runner-a")
    body = {"feedback": [RATING], "runnerId": runner}
    response = client.post(f"{BASE}/p1/feedback", json=body, headers=internal_headers)
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == "runnerId"
    assert lease_of(db, "p1")[0] == "runner-a"
    assert db.execute("SELECT count(*) FROM personas.persona_feedback").fetchone()[0] == 0


# --- races against the real server -------------------------------------------------------

ITERATIONS = 60


def test_heartbeats_racing_releases_expiry_and_claims_never_make_two_holders(live_api, db):
    """Each round: runner-a's lease is about to lapse (or just has); at the same moment
    runner-a heartbeats (and, every other round, releases), runner-b claims. Afterwards at
    most one runner may believe it holds the lease, and the database agrees with it."""
    session = requests.Session()
    session.headers["X-Service-Key"] = SERVICE_KEY
    base = f"{live_api.url}{BASE}"
    add_persona(db, "p1", cadence="hourly")

    def beat(barrier):
        barrier.wait()
        return session.post(f"{base}/claims/p1/heartbeat", json={"runnerId": "runner-a"}, timeout=30)

    def release(barrier):
        barrier.wait()
        return session.delete(f"{base}/claims/p1", params={"runnerId": "runner-a"}, timeout=30)

    def take(barrier):
        barrier.wait()
        return session.post(f"{base}/claims", json={"runnerId": "runner-b", "limit": 1}, timeout=30)

    outcomes = set()
    with ThreadPoolExecutor(max_workers=3) as pool:
        for n in range(ITERATIONS):
            db.execute(
                "UPDATE personas.personas SET lease_runner = 'runner-a', last_active_at = NULL,"
                " lease_until = now() + %s * interval '1 millisecond' WHERE user_id = 'p1'",
                ((n % 6) * 4 - 4,),
            )
            with_release = n % 2 == 1
            barrier = threading.Barrier(3 if with_release else 2)
            hb = pool.submit(beat, barrier)
            rel = pool.submit(release, barrier) if with_release else None
            cl = pool.submit(take, barrier)
            hb, cl = hb.result(), cl.result()
            released = rel is not None and rel.result().status_code == 204
            assert hb.status_code in (200, 404, 409), hb.text
            assert cl.status_code == 200, cl.text
            b_holds = [p["userId"] for p in cl.json()["personas"]] == ["p1"]
            # runner-a believes it holds the lease after a 200 heartbeat, unless it released.
            a_holds = hb.status_code == 200 and not released
            outcomes.add((hb.status_code, released, b_holds))
            assert not (a_holds and b_holds), (n, hb.text, cl.text)
            if b_holds and hb.status_code == 200:
                assert released, "runner-b got a lease runner-a had just extended"
            runner, until = lease_of(db, "p1")
            if b_holds:
                assert runner == "runner-b"
                assert until == datetime.fromisoformat(cl.json()["leaseUntil"])
            elif a_holds:
                assert runner == "runner-a"
                assert until == datetime.fromisoformat(hb.json()["leaseUntil"])
    # The race was real: both sides won some rounds.
    assert any(b for _, _, b in outcomes) and any(h == 200 for h, _, _ in outcomes), outcomes
