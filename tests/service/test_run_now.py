"""Run now: an operator makes one persona due at once, through the admin gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from personas.queries import queries
from tests.devauth_fixtures import mint_token
from tests.service.factories import UNPAGED, add_persona, set_lease
from tests.support.auth import bearer
from tests.support.claims import claimed_ids, due_ids

ADMIN = "/api/v1/personas/admin"
INTERNAL = "/api/v1/personas/internal"


def run_now(client, token: str, persona: str):
    return client.post(f"{ADMIN}/{persona}/run-now", headers=bearer(token))


def run_requested(db, persona: str) -> bool:
    sql = "SELECT run_requested_at IS NOT NULL FROM personas.personas WHERE user_id = %s"
    return db.execute(sql, (persona,)).fetchone()[0]


@pytest.mark.parametrize("cadence", ["hourly", "daily", "weekdays"])
def test_run_now_makes_a_fresh_persona_due_until_its_next_actions(
    client, db, internal_headers, admin_token, cadence
):
    add_persona(db, "fresh", cadence=cadence, last_active=datetime.now(UTC) - timedelta(minutes=1))
    assert due_ids(client, internal_headers) == []

    response = run_now(client, admin_token, "fresh")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "userId": "fresh"}
    assert due_ids(client, internal_headers) == ["fresh"]

    action = {"tickId": "tick-now", "toolName": "todo.create", "result": "ok"}
    posted = client.post(f"{INTERNAL}/fresh/actions", json={"actions": [action]}, headers=internal_headers)
    assert posted.status_code == 200
    assert not run_requested(db, "fresh")
    assert due_ids(client, internal_headers) == []


def test_run_now_is_honoured_by_claims_and_answered_by_feedback(client, db, internal_headers, admin_token):
    add_persona(db, "fresh", cadence="daily", last_active=datetime.now(UTC))
    assert claimed_ids(client, internal_headers) == []

    assert run_now(client, admin_token, "fresh").status_code == 200
    assert claimed_ids(client, internal_headers) == ["fresh"]

    rating = {"tickId": "tick-now", "module": "todo", "rating": 5}
    posted = client.post(f"{INTERNAL}/fresh/feedback", json={"feedback": [rating]}, headers=internal_headers)
    assert posted.status_code == 200
    assert not run_requested(db, "fresh")
    assert claimed_ids(client, internal_headers, "runner-b") == []


def test_run_now_overrides_the_weekend_of_a_weekdays_persona(client, db, admin_token):
    saturday = datetime(2026, 11, 28, 12, tzinfo=UTC)
    add_persona(db, "weekdays", cadence="weekdays", last_active=saturday - timedelta(days=3))
    assert run_now(client, admin_token, "weekdays").status_code == 200
    rows = queries.internal.due_personas(db, now=saturday, **UNPAGED)
    assert [p["userId"] for p in rows] == ["weekdays"]


def test_run_now_does_not_break_a_live_lease(client, db, internal_headers, admin_token):
    add_persona(db, "held", last_active=datetime.now(UTC))
    set_lease(db, "held", "runner-a", datetime.now(UTC) + timedelta(minutes=5))
    assert run_now(client, admin_token, "held").status_code == 200
    assert due_ids(client, internal_headers) == []
    set_lease(db, "held", None, None)
    assert due_ids(client, internal_headers) == ["held"]


def test_run_now_for_an_unknown_persona_is_404(client, db, admin_token):
    response = run_now(client, admin_token, "ghost")
    assert response.status_code == 404
    assert response.get_json()["error"] == "NotFound"


def test_run_now_needs_an_admin_token(client, db, devauth):
    add_persona(db, "p1", last_active=datetime.now(UTC))
    assert client.post(f"{ADMIN}/p1/run-now").status_code == 401
    assert run_now(client, mint_token(devauth, role="user"), "p1").status_code == 403
    assert not run_requested(db, "p1")
