"""Claims: due personas leased to one runner at a time, as the contract promises them."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import SERVICE_KEY
from tests.service.factories import add_persona, lease_of, set_lease
from tests.support.claims import claim, claim_until_empty, claimed_ids, due_ids

BASE = "/api/v1/personas/internal"
DUE_FIELDS = {"userId", "email", "archetype", "systemPrompt", "moduleMix", "tickCadence", "lastActiveAt"}


def release(client, headers, persona: str, runner: str | None = "runner-a"):
    query = {} if runner is None else {"runnerId": runner}
    return client.delete(f"{BASE}/claims/{persona}", query_string=query, headers=headers)


# --- claiming ---------------------------------------------------------------------------


def test_a_claim_leases_the_due_personas_in_due_order(client, db, internal_headers):
    now = datetime.now(UTC)
    add_persona(db, "recent", cadence="hourly", last_active=now - timedelta(minutes=5))
    add_persona(db, "old", cadence="hourly", last_active=now - timedelta(hours=5))
    add_persona(db, "older", cadence="daily", last_active=now - timedelta(days=3))
    add_persona(db, "never", cadence="weekdays" if now.isoweekday() < 6 else "daily")
    due_before = client.get(f"{BASE}/due", headers=internal_headers).get_json()["personas"]

    body = claim(client, internal_headers, leaseSeconds=120)

    assert body["personas"] == due_before
    assert [p["userId"] for p in body["personas"]] == ["never", "older", "old"]
    assert set(body["personas"][0]) == DUE_FIELDS
    server_time = datetime.fromisoformat(body["serverTime"])
    lease_until = datetime.fromisoformat(body["leaseUntil"])
    assert abs(server_time - now) < timedelta(seconds=30)
    assert lease_until - server_time == timedelta(seconds=120)
    assert lease_of(db, "older") == ("runner-a", lease_until)
    assert lease_of(db, "recent") == (None, None)


def test_a_claim_defaults_to_50_personas_for_600_seconds(client, db, internal_headers):
    for i in range(55):
        add_persona(db, f"p{i:02}")
    body = claim(client, internal_headers)
    assert len(body["personas"]) == 50
    lease = datetime.fromisoformat(body["leaseUntil"]) - datetime.fromisoformat(body["serverTime"])
    assert lease == timedelta(seconds=600)
    assert claimed_ids(client, internal_headers) == [f"p{i}" for i in range(50, 55)]


def test_a_claim_takes_the_oldest_up_to_its_limit(client, db, internal_headers):
    now = datetime.now(UTC)
    for hours in (30, 50, 40, 70):
        add_persona(db, f"idle-{hours}h", last_active=now - timedelta(hours=hours))
    assert claimed_ids(client, internal_headers, limit=2) == ["idle-70h", "idle-50h"]
    assert claimed_ids(client, internal_headers, limit=2) == ["idle-40h", "idle-30h"]


def test_nothing_due_is_an_empty_claim(client, db, internal_headers):
    add_persona(db, "fresh", last_active=datetime.now(UTC))
    body = claim(client, internal_headers)
    assert body["personas"] == []
    assert datetime.fromisoformat(body["leaseUntil"]) > datetime.fromisoformat(body["serverTime"])
    assert lease_of(db, "fresh") == (None, None)


def test_a_leased_persona_is_not_claimable_by_anyone_nor_in_due(client, db, internal_headers):
    add_persona(db, "p1")
    add_persona(db, "p2")
    assert claimed_ids(client, internal_headers, "runner-a", limit=1) == ["p1"]
    assert due_ids(client, internal_headers) == ["p2"]
    assert claimed_ids(client, internal_headers, "runner-b") == ["p2"]
    assert claimed_ids(client, internal_headers, "runner-a") == []
    assert due_ids(client, internal_headers) == []


def test_an_expired_lease_is_claimable_again(client, db, internal_headers):
    add_persona(db, "p1")
    set_lease(db, "p1", "crashed-runner", datetime.now(UTC) - timedelta(seconds=1))
    assert due_ids(client, internal_headers) == ["p1"]
    assert claimed_ids(client, internal_headers, "runner-b") == ["p1"]
    assert lease_of(db, "p1")[0] == "runner-b"


def test_a_lease_ends_when_feedback_is_posted(client, db, internal_headers):
    add_persona(db, "p1")
    add_persona(db, "p2")
    claim(client, internal_headers)
    rating = {"tickId": "tick-1", "module": "todo", "rating": 4}
    response = client.post(f"{BASE}/p1/feedback", json={"feedback": [rating]}, headers=internal_headers)
    assert response.status_code == 200
    assert lease_of(db, "p1") == (None, None)
    assert lease_of(db, "p2")[0] == "runner-a"


def test_posting_actions_keeps_the_lease(client, db, internal_headers):
    add_persona(db, "p1")
    claim(client, internal_headers)
    action = {"tickId": "tick-1", "toolName": "todo.create", "result": "ok"}
    response = client.post(f"{BASE}/p1/actions", json={"actions": [action]}, headers=internal_headers)
    assert response.status_code == 200
    assert lease_of(db, "p1")[0] == "runner-a"


# --- ending a lease early ---------------------------------------------------------------


def test_the_holder_ends_its_lease_and_the_persona_is_claimable_again(client, db, internal_headers):
    add_persona(db, "p1")
    claim(client, internal_headers)
    response = release(client, internal_headers, "p1")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert lease_of(db, "p1") == (None, None)
    assert claimed_ids(client, internal_headers, "runner-b") == ["p1"]


def test_another_runner_cannot_end_the_lease(client, db, internal_headers):
    add_persona(db, "p1")
    claim(client, internal_headers, "runner-a")
    response = release(client, internal_headers, "p1", "runner-b")
    assert response.status_code == 409
    assert response.get_json()["error"] == "Conflict"
    assert lease_of(db, "p1")[0] == "runner-a"


@pytest.mark.parametrize("lease", ["none", "expired", "no-persona"])
def test_ending_a_lease_that_is_not_live_is_404(client, db, internal_headers, lease):
    if lease != "no-persona":
        add_persona(db, "p1")
    if lease == "expired":
        set_lease(db, "p1", "runner-a", datetime.now(UTC) - timedelta(seconds=1))
    response = release(client, internal_headers, "p1")
    assert response.status_code == 404
    assert response.get_json()["error"] == "NotFound"


@pytest.mark.parametrize("query", [None, "", "r\x00x", "r" * 201])
def test_ending_a_lease_needs_a_valid_runner_id(client, db, internal_headers, query):
    add_persona(db, "p1")
    claim(client, internal_headers)
    response = release(client, internal_headers, "p1", query)
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == "runnerId"
    assert lease_of(db, "p1")[0] == "runner-a"


def test_claim_routes_sit_behind_the_service_key(client, db, internal_headers):
    add_persona(db, "p1")
    assert client.post(f"{BASE}/claims", json={"runnerId": "r"}).status_code == 401
    assert lease_of(db, "p1") == (None, None)
    claim(client, internal_headers)
    wrong = {"X-Service-Key": SERVICE_KEY + "x"}
    assert release(client, wrong, "p1").status_code == 401
    assert lease_of(db, "p1")[0] == "runner-a"


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "runnerId"),
        ({"runnerId": ""}, "runnerId"),
        ({"runnerId": "a\x00b"}, "runnerId"),
        ({"runnerId": "r" * 201}, "runnerId"),
        ({"runnerId": 5}, "runnerId"),
        ({"runnerId": "r", "limit": "5"}, "limit"),
        ({"runnerId": "r", "limit": 0}, "limit"),
        ({"runnerId": "r", "limit": 501}, "limit"),
        ({"runnerId": "r", "limit": 2.5}, "limit"),
        ({"runnerId": "r", "limit": True}, "limit"),
        ({"runnerId": "r", "limit": None}, "limit"),
        ({"runnerId": "r", "leaseSeconds": 2.5}, "leaseSeconds"),
        ({"runnerId": "r", "leaseSeconds": 4}, "leaseSeconds"),
        ({"runnerId": "r", "leaseSeconds": 3601}, "leaseSeconds"),
        ({"runnerId": "r", "leaseSeconds": "600"}, "leaseSeconds"),
        ([{"runnerId": "r"}], "body"),
        ("runner-a", "body"),
    ],
)
def test_invalid_claims_are_400_naming_the_field(client, db, internal_headers, body, field):
    add_persona(db, "p1")
    response = client.post(f"{BASE}/claims", json=body, headers=internal_headers)
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["error"] == "ValidationError"
    assert payload["details"][0]["field"] == field
    assert lease_of(db, "p1") == (None, None)


@pytest.mark.parametrize("raw", [b"", b"not json", b'{"runnerId": ', b"\xff\xfe"])
def test_a_claim_body_that_is_not_json_is_400(client, db, internal_headers, raw):
    response = client.post(
        f"{BASE}/claims", data=raw, headers=internal_headers, content_type="application/json"
    )
    assert response.status_code == 400
    assert "body" in response.get_json()["message"]


def test_the_largest_claim_is_accepted(client, db, internal_headers):
    add_persona(db, "p1")
    assert claimed_ids(client, internal_headers, "r" * 200, limit=500, leaseSeconds=3600) == ["p1"]


# --- many runners at once, against the real server ----------------------------------------


def arrange_fleet(db) -> set[str]:
    """200 claimable personas (some behind a crashed runner's expired lease) and 20 that
    another runner holds; returns the claimable ids."""
    now = datetime.now(UTC)
    claimable = set()
    for i in range(220):
        pid = add_persona(db, f"fleet-{i:03}", cadence="hourly", last_active=now - timedelta(hours=2 + i % 9))
        if i < 20:
            set_lease(db, pid, "busy-runner", now + timedelta(minutes=10))
            continue
        if i % 3 == 0:
            set_lease(db, pid, "crashed-runner", now - timedelta(seconds=5))
        claimable.add(pid)
    return claimable


def assert_each_claimed_once(db, claims: dict[str, list[tuple[str, str]]], claimable: set[str]) -> None:
    handed_out = Counter(pid for got in claims.values() for pid, _ in got)
    assert max(handed_out.values()) == 1, handed_out.most_common(3)
    assert set(handed_out) == claimable
    for runner, got in claims.items():
        for pid, lease_until in got:
            assert lease_of(db, pid) == (runner, datetime.fromisoformat(lease_until))


def test_concurrent_claimers_share_the_fleet_without_overlap(live_api, db):
    claimable = arrange_fleet(db)
    runners = [f"thread-runner-{n}" for n in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = pool.map(lambda runner: claim_until_empty(live_api.url, runner, 7), runners)
        claims = dict(zip(runners, results, strict=True))
    assert_each_claimed_once(db, claims, claimable)
    assert sum(1 for got in claims.values() if got) > 1  # the work really was shared
    assert claim_until_empty(live_api.url, "late-runner", 50) == []


def test_claiming_processes_share_the_fleet_without_overlap(live_api, db):
    claimable = arrange_fleet(db)
    runners = [f"process-runner-{n}" for n in range(4)]
    with multiprocessing.get_context("spawn").Pool(len(runners)) as pool:
        results = pool.starmap(claim_until_empty, [(live_api.url, runner, 5) for runner in runners])
    assert_each_claimed_once(db, dict(zip(runners, results, strict=True)), claimable)
