"""What happened in a tick: PUT /internal/<id>/ticks/<tickId>/transcript, the trace id on
the tick report, and GET /admin/<id>/ticks/<tickId>, as the contract promises them."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import orjson
import pytest

from tests.service.factories import add_action, add_persona, add_rating, add_tick
from tests.service.test_limits import post_chunked
from tests.support.auth import bearer
from tests.support.transcripts import EVENTS, TRACE

INTERNAL = "/api/v1/personas/internal"
ADMIN = "/api/v1/personas/admin"
MIB = 1024 * 1024


def transcript_path(persona: str = "p1", tick: str = "tick-1") -> str:
    return f"{INTERNAL}/{persona}/ticks/{tick}/transcript"


def put_transcript(client, headers, events, persona: str = "p1", tick: str = "tick-1"):
    return client.put(transcript_path(persona, tick), json={"events": events}, headers=headers)


def stored_transcripts(db) -> list[tuple]:
    return db.execute(
        "SELECT persona_id, tick_id, events, raw_bytes FROM personas.persona_transcripts ORDER BY 1, 2"
    ).fetchall()


def one_tick(db, persona: str = "p1", tick: str = "tick-1") -> None:
    add_persona(db, persona)
    add_tick(db, persona, tick)


def test_a_transcript_is_stored_compressed_and_read_back_whole(client, db, internal_headers, admin_token):
    one_tick(db)
    stored = put_transcript(client, internal_headers, EVENTS)
    assert stored.status_code == 200, stored.get_data(as_text=True)
    assert stored.get_json() == {"ok": True, "tickId": "tick-1", "events": 5, "new": True}
    [(_, _, packed, raw_bytes)] = stored_transcripts(db)
    assert orjson.loads(zlib.decompress(packed)) == EVENTS
    assert len(packed) < raw_bytes
    shown = client.get(f"{ADMIN}/p1/ticks/tick-1", headers=bearer(admin_token))
    assert shown.status_code == 200
    assert shown.get_json()["transcript"] == {"events": EVENTS}


def test_the_same_transcript_again_is_200_and_a_different_one_409(client, db, internal_headers):
    one_tick(db)
    assert put_transcript(client, internal_headers, EVENTS).status_code == 200
    # The same events, object keys in another order: the same body.
    reordered = [dict(reversed(list(event.items()))) for event in EVENTS]
    again = put_transcript(client, internal_headers, reordered)
    assert again.status_code == 200
    assert again.get_json()["new"] is False
    other = put_transcript(client, internal_headers, EVENTS[:2])
    assert other.status_code == 409
    assert other.get_json()["error"] == "Conflict"
    [(_, _, packed, _)] = stored_transcripts(db)
    assert orjson.loads(zlib.decompress(packed)) == EVENTS


def test_an_unknown_persona_or_tick_is_404_and_stores_nothing(client, db, internal_headers):
    one_tick(db)
    assert put_transcript(client, internal_headers, EVENTS, persona="nobody").status_code == 404
    missing = put_transcript(client, internal_headers, EVENTS, tick="tick-never-reported")
    assert missing.status_code == 404
    assert "tick" in missing.get_json()["message"]
    assert stored_transcripts(db) == []


def test_the_route_needs_the_service_key(client, db):
    one_tick(db)
    assert put_transcript(client, {"X-Service-Key": "wrong"}, EVENTS).status_code == 401
    assert stored_transcripts(db) == []


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"kind": "thought", "text": "hm"}, "events[1]"),
        ({"kind": "model", "text": "x" * 20_001}, "events[1].model.text"),
        ({"kind": "model"}, "events[1].model.text"),
        ({**EVENTS[1], "output": "y" * 8_001}, "events[1].call.output"),
        ({**EVENTS[1], "arguments": ["not", "an", "object"]}, "events[1].call.arguments"),
        ({**EVENTS[1], "result": "maybe"}, "events[1].call.result"),
        ({**EVENTS[1], "latencyMs": -1}, "events[1].call.latencyMs"),
        ({**EVENTS[1], "tool": ""}, "events[1].call.tool"),
        (
            {"kind": "ratings", "ratings": [{"module": "todo", "rating": 6}]},
            "events[1].ratings.ratings[0].rating",
        ),
        ({"kind": "error", "step": "driver", "message": "nul \x00 inside"}, "events[1].error.message"),
        ("just text", "events[1]"),
    ],
)
def test_a_bad_event_is_400_naming_its_field_and_stores_nothing(client, db, internal_headers, event, field):
    one_tick(db)
    answer = put_transcript(client, internal_headers, [EVENTS[0], event])
    assert answer.status_code == 400, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["error"] == "ValidationError"
    assert field in [d["field"] for d in body["details"]]
    assert stored_transcripts(db) == []


@pytest.mark.parametrize("body", [{}, {"events": "none"}, [], {"events": None}])
def test_a_body_without_a_list_of_events_is_400(client, db, internal_headers, body):
    one_tick(db)
    answer = client.put(transcript_path(), json=body, headers=internal_headers)
    assert answer.status_code == 400
    assert answer.get_json()["details"][0]["field"] in {"events", "body"}


def padded(size: int) -> bytes:
    """A valid transcript padded with JSON whitespace to exactly `size` bytes."""
    body = orjson.dumps({"events": EVENTS})
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_a_transcript_over_one_mib_is_413_and_stores_nothing(client, db, internal_headers):
    one_tick(db)
    headers = {**internal_headers, "Content-Type": "application/json"}
    over = client.put(transcript_path(), data=padded(MIB + 1), headers=headers)
    assert over.status_code == 413
    assert over.get_json()["error"] == "RequestEntityTooLarge"
    assert stored_transcripts(db) == []
    exactly = client.put(transcript_path(), data=padded(MIB), headers=headers)
    assert exactly.status_code == 200, exactly.get_data(as_text=True)


def test_a_chunked_transcript_over_one_mib_is_413_and_stores_nothing(live_api, db):
    one_tick(db)
    status, answer = post_chunked(live_api.url, transcript_path(), padded(MIB + 10), method="PUT")
    assert status == 413
    assert answer["error"] == "RequestEntityTooLarge"
    assert stored_transcripts(db) == []


def test_a_transcript_goes_with_its_persona(client, db, internal_headers):
    one_tick(db)
    one_tick(db, "p2")
    for persona in ("p1", "p2"):
        assert put_transcript(client, internal_headers, EVENTS, persona=persona).status_code == 200
    db.execute("DELETE FROM personas.personas WHERE user_id = 'p1'")
    assert [row[:2] for row in stored_transcripts(db)] == [("p2", "tick-1")]


# --- the trace id on the tick report ----------------------------------------------------


def put_tick(client, headers, body: dict, tick: str = "tick-1"):
    return client.put(f"{INTERNAL}/p1/ticks/{tick}", json=body, headers=headers)


def test_the_tick_report_keeps_the_trace_id_and_answers_with_it(client, db, internal_headers, admin_token):
    add_persona(db, "p1")
    started = put_tick(client, internal_headers, {"runnerId": "r1", "state": "running", "traceId": TRACE})
    assert started.status_code == 200, started.get_data(as_text=True)
    assert started.get_json()["tick"]["traceId"] == TRACE
    # The end need not repeat it; the same end again is the same no-op.
    for _ in range(2):
        ended = put_tick(client, internal_headers, {"runnerId": "r1", "state": "ok"})
        assert ended.status_code == 200
        assert ended.get_json()["tick"]["traceId"] == TRACE
    detail = client.get(f"{ADMIN}/p1", headers=bearer(admin_token)).get_json()
    assert detail["recentTicks"][0]["traceId"] == TRACE
    other = put_tick(client, internal_headers, {"runnerId": "r1", "state": "ok", "traceId": "a" * 32})
    assert other.status_code == 409


def test_a_tick_without_a_trace_id_answers_without_one(client, db, internal_headers):
    add_persona(db, "p1")
    answer = put_tick(client, internal_headers, {"runnerId": "r1", "state": "ok"})
    assert answer.status_code == 200
    assert "traceId" not in answer.get_json()["tick"]


@pytest.mark.parametrize("trace", [TRACE.upper(), TRACE[:31], TRACE + "0", "g" * 32, 42, ""])
def test_a_trace_id_not_32_lowercase_hex_chars_is_400(client, db, internal_headers, trace):
    add_persona(db, "p1")
    answer = put_tick(client, internal_headers, {"runnerId": "r1", "state": "running", "traceId": trace})
    assert answer.status_code == 400
    assert answer.get_json()["details"][0]["field"] == "traceId"
    assert db.execute("SELECT count(*) FROM personas.persona_ticks").fetchone()[0] == 0


# --- the admin tick route ---------------------------------------------------------------


def test_the_admin_tick_route_shows_the_tick_its_calls_in_order_ratings_and_transcript(
    client, db, internal_headers, admin_token
):
    add_persona(db, "p1")
    assert (
        put_tick(
            client, internal_headers, {"runnerId": "r1", "state": "running", "traceId": TRACE}
        ).status_code
        == 200
    )
    calls = [
        {"tickId": "tick-1", "toolName": tool, "result": "ok", "latencyMs": 10 * i}
        for i, tool in enumerate(["todo.list", "todo.create", "notes.create", "calendar.list"])
    ]
    calls[2] |= {"result": "error", "errorMessage": "boom"}
    assert (
        client.post(f"{INTERNAL}/p1/actions", json={"actions": calls}, headers=internal_headers).status_code
        == 200
    )
    feedback = {"feedback": [{"tickId": "tick-1", "module": "todo", "rating": 2, "notes": "Slow list."}]}
    assert client.post(f"{INTERNAL}/p1/feedback", json=feedback, headers=internal_headers).status_code == 200
    assert (
        put_tick(client, internal_headers, {"runnerId": "r1", "state": "ok", "costUsd": 0.01}).status_code
        == 200
    )
    add_action(db, "p1", datetime.now(UTC), tick_id="tick-other")  # another tick's call

    answer = client.get(f"{ADMIN}/p1/ticks/tick-1", headers=bearer(admin_token))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["tick"]["state"] == "ok" and body["tick"]["traceId"] == TRACE
    assert (body["tick"]["toolCalls"], body["tick"]["toolErrors"]) == (4, 1)
    assert [a["toolName"] for a in body["actions"]] == [c["toolName"] for c in calls]
    assert body["actions"][2]["errorMessage"] == "boom"
    assert body["ratings"] == [{"module": "todo", "rating": 2, "notes": "Slow list."}]
    assert body["transcript"] is None


def test_the_admin_tick_route_is_404_for_an_unknown_tick_or_persona(client, db, admin_token):
    one_tick(db)
    add_rating(db, "p1", "todo", 3, datetime.now(UTC), tick_id="rated-only")
    for path in ("p1/ticks/nope", "nobody/ticks/tick-1", "p1/ticks/rated-only"):
        assert client.get(f"{ADMIN}/{path}", headers=bearer(admin_token)).status_code == 404, path


def test_the_admin_tick_route_needs_an_admin_token(client, db):
    one_tick(db)
    assert client.get(f"{ADMIN}/p1/ticks/tick-1").status_code == 401
