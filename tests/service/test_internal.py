"""The internal routes: /due, actions and feedback, as the contract promises them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests

from config import Config
from personas.idempotency import KEY_MAX
from personas.queries import queries
from personas.validation import TEXT_MAX
from tests.conftest import SERVICE_KEY, running_app
from tests.service.factories import UNPAGED, add_persona, as_javascript_sends, count_rows, utf16_slice

BASE = "/api/v1/personas/internal"


def action(tick: str = "tick-1", tool: str = "todo.create", **extra) -> dict:
    return {"tickId": tick, "toolName": tool, "result": "ok", **extra}


def rating(tick: str = "tick-1", module: str = "todo", value: int = 4, **extra) -> dict:
    return {"tickId": tick, "module": module, "rating": value, **extra}


# --- the gate ---------------------------------------------------------------------------


def test_internal_routes_refuse_a_missing_key(client, db):
    add_persona(db, "p1")
    assert client.get(f"{BASE}/due").status_code == 401
    response = client.post(f"{BASE}/p1/actions", json={"actions": [action()]})
    assert response.status_code == 401
    assert response.get_json()["error"] == "Unauthorized"
    assert count_rows(db, "persona_actions") == 0


def test_internal_routes_refuse_a_wrong_key(client):
    response = client.get(f"{BASE}/due", headers={"X-Service-Key": SERVICE_KEY + "x"})
    assert response.status_code == 401


def test_service_without_a_key_refuses_every_internal_call(config, db):
    with running_app(replace(config, service_key="")) as keyless:
        for headers in ({}, {"X-Service-Key": ""}, {"X-Service-Key": SERVICE_KEY}):
            assert keyless.test_client().get(f"{BASE}/due", headers=headers).status_code == 401


def test_every_key_named_in_either_variable_is_accepted_during_a_rotation(config, db):
    """MANA_SERVICE_KEY and each key of MANA_SERVICE_KEYS open the gate; nothing else does."""
    rotating = Config.from_env(
        {
            "DATABASE_URL": config.database_url,
            "MANA_SERVICE_KEY": "key-old",
            "MANA_SERVICE_KEYS": " key-new, ,key-next ",
        }
    )
    assert rotating.accepted_service_keys == ("key-old", "key-new", "key-next")
    settings = replace(
        config, service_key=rotating.service_key, extra_service_keys=rotating.extra_service_keys
    )
    with running_app(settings) as app:
        client = app.test_client()
        for key in ("key-old", "key-new", "key-next"):
            assert client.get(f"{BASE}/due", headers={"X-Service-Key": key}).status_code == 200
        for key in ("", "key-new,key-next", "key-ne", "key-newx", " key-new", SERVICE_KEY):
            assert client.get(f"{BASE}/due", headers={"X-Service-Key": key}).status_code == 401, key


def test_the_old_key_is_refused_once_the_rotation_removes_it(config, db):
    with running_app(replace(config, service_key="", extra_service_keys=("key-new",))) as app:
        client = app.test_client()
        assert client.get(f"{BASE}/due", headers={"X-Service-Key": "key-new"}).status_code == 200
        assert client.get(f"{BASE}/due", headers={"X-Service-Key": "key-old"}).status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/nothing-here", "/p1/nothing", "/claims/p1/more", "", "/"],
    ids=["top", "nested", "deep", "bare", "slash"],
)
def test_an_unknown_internal_path_is_401_without_a_key_and_404_with_one(client, db, path):
    """Without the key nothing tells a route from a non-route, so the routes cannot be listed."""
    response = client.get(f"{BASE}{path}")
    assert response.status_code == 401
    assert response.get_json()["error"] == "Unauthorized"
    assert client.get(f"{BASE}{path}", headers={"X-Service-Key": SERVICE_KEY}).status_code == 404


def test_a_wrong_method_on_an_internal_route_is_401_without_a_key_and_405_with_one(client, db):
    assert client.put(f"{BASE}/due").status_code == 401
    assert client.put(f"{BASE}/due", headers={"X-Service-Key": SERVICE_KEY}).status_code == 405


def test_paths_outside_the_internal_prefix_stay_404_without_a_key(client, db):
    assert client.get("/api/v1/personas/internalish").status_code == 404
    assert client.get("/nothing-here").status_code == 404


# --- /due -----------------------------------------------------------------------------


def test_due_lists_never_active_first_then_oldest_activity(client, db, internal_headers):
    now = datetime.now(UTC)
    add_persona(db, "recent", cadence="hourly", last_active=now - timedelta(minutes=5))
    add_persona(db, "old", cadence="hourly", last_active=now - timedelta(hours=5))
    add_persona(db, "older", cadence="daily", last_active=now - timedelta(days=3))
    add_persona(db, "never", cadence="daily", last_active=None)
    body = client.get(f"{BASE}/due", headers=internal_headers).get_json()
    assert [p["userId"] for p in body["personas"]] == ["never", "older", "old"]
    never = body["personas"][0]
    assert set(never) == {
        "userId",
        "email",
        "archetype",
        "systemPrompt",
        "moduleMix",
        "tickCadence",
        "lastActiveAt",
    }
    assert never["lastActiveAt"] is None
    assert never["moduleMix"] == {"todo": 3, "calendar": 1}
    assert datetime.fromisoformat(body["personas"][1]["lastActiveAt"]) < now
    server_time = datetime.fromisoformat(body["serverTime"])
    assert server_time.utcoffset() == timedelta(0)
    assert abs(server_time - now) < timedelta(seconds=30)


def test_due_applies_each_cadence_threshold(client, db, internal_headers):
    now = datetime.now(UTC)
    add_persona(db, "hourly-due", cadence="hourly", last_active=now - timedelta(minutes=61))
    add_persona(db, "hourly-not", cadence="hourly", last_active=now - timedelta(minutes=59))
    add_persona(db, "daily-due", cadence="daily", last_active=now - timedelta(hours=24, minutes=1))
    add_persona(db, "daily-not", cadence="daily", last_active=now - timedelta(hours=23))
    ids = {p["userId"] for p in client.get(f"{BASE}/due", headers=internal_headers).get_json()["personas"]}
    assert "hourly-due" in ids and "daily-due" in ids
    assert "hourly-not" not in ids and "daily-not" not in ids


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (datetime(2026, 11, 23, 12, tzinfo=UTC), {"weekday-never", "weekday-old", "daily-old"}),  # Monday
        (datetime(2026, 11, 27, 23, 59, tzinfo=UTC), {"weekday-never", "weekday-old", "daily-old"}),  # Fri
        (datetime(2026, 11, 28, 0, 1, tzinfo=UTC), {"daily-old"}),  # Saturday
        (datetime(2026, 11, 29, 12, tzinfo=UTC), {"daily-old"}),  # Sunday
    ],
)
def test_weekdays_cadence_is_due_only_on_utc_monday_to_friday(db, database_url, day, expected):
    add_persona(db, "weekday-never", cadence="weekdays", last_active=None)
    add_persona(db, "weekday-old", cadence="weekdays", last_active=day - timedelta(days=2))
    add_persona(db, "weekday-fresh", cadence="weekdays", last_active=day - timedelta(hours=2))
    add_persona(db, "daily-old", cadence="daily", last_active=day - timedelta(days=2))
    assert {p["userId"] for p in queries.internal.due_personas(db, now=day, **UNPAGED)} == expected


def test_due_is_an_empty_list_when_nobody_is_due(client, db, internal_headers):
    add_persona(db, "fresh", cadence="daily", last_active=datetime.now(UTC))
    body = client.get(f"{BASE}/due", headers=internal_headers).get_json()
    assert body["personas"] == []
    # The server's clock comes with an empty list too.
    assert abs(datetime.fromisoformat(body["serverTime"]) - datetime.now(UTC)) < timedelta(seconds=30)


# --- actions ---------------------------------------------------------------------------


def test_posting_actions_stores_every_row_and_marks_the_persona_active(client, db, internal_headers):
    add_persona(db, "p1")
    batch = [
        action(tool="todo.create", latencyMs=12, inputHash="abc"),
        action(tool="todo.list", result="error", errorMessage="boom"),
    ]
    response = client.post(f"{BASE}/p1/actions", json={"actions": batch}, headers=internal_headers)
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "written": 2, "new": 2}
    rows = db.execute(
        "SELECT id, tick_id, tool_name, input_hash, result, error_message, latency_ms "
        "FROM personas.persona_actions WHERE persona_id = 'p1' ORDER BY id"
    ).fetchall()
    assert rows == [
        ("tick-1-0-todo.create", "tick-1", "todo.create", "abc", "ok", None, 12),
        ("tick-1-1-todo.list", "tick-1", "todo.list", None, "error", "boom", None),
    ]
    last_active = db.execute("SELECT last_active_at FROM personas.personas WHERE user_id = 'p1'").fetchone()[
        0
    ]
    assert last_active is not None and datetime.now(UTC) - last_active < timedelta(seconds=30)


def test_retried_batch_writes_nothing_new(client, db, internal_headers):
    add_persona(db, "p1")
    batch = {"actions": [action(tool=f"tool-{i}") for i in range(5)]}
    first = client.post(f"{BASE}/p1/actions", json=batch, headers=internal_headers).get_json()
    again = client.post(f"{BASE}/p1/actions", json=batch, headers=internal_headers).get_json()
    assert first == {"ok": True, "written": 5, "new": 5}
    assert again == {"ok": True, "written": 5, "new": 0}
    assert count_rows(db, "persona_actions") == 5


def test_two_personas_can_reuse_a_tick_id(client, db, internal_headers):
    add_persona(db, "p1")
    add_persona(db, "p2")
    batch = {"actions": [action(tick="shared-tick")]}
    for pid in ("p1", "p2"):
        assert (
            client.post(f"{BASE}/{pid}/actions", json=batch, headers=internal_headers).get_json()["new"] == 1
        )
    assert count_rows(db, "persona_actions") == 2


def test_over_long_keys_that_differ_only_at_the_end_do_not_collide(client, db, internal_headers):
    add_persona(db, "p1")
    tick = "t" * 200
    tools = ["x" * 199 + "a", "x" * 199 + "b"]
    batch = {"actions": [action(tick=tick, tool=tools[0]), action(tick=tick, tool=tools[1])]}
    assert client.post(f"{BASE}/p1/actions", json=batch, headers=internal_headers).get_json()["new"] == 2
    # Same index, different tool: the batch of the other tool order is new too.
    swapped = {"actions": [action(tick=tick, tool=tools[1]), action(tick=tick, tool=tools[0])]}
    assert client.post(f"{BASE}/p1/actions", json=swapped, headers=internal_headers).get_json()["new"] == 2
    ids = [r[0] for r in db.execute("SELECT id FROM personas.persona_actions")]
    assert len(set(ids)) == 4 and all(len(i) <= KEY_MAX for i in ids)


def test_actions_for_an_unknown_persona_are_404_and_write_nothing(client, db, internal_headers):
    response = client.post(f"{BASE}/ghost/actions", json={"actions": [action()]}, headers=internal_headers)
    assert response.status_code == 404
    assert response.get_json()["error"] == "NotFound"
    assert count_rows(db, "persona_actions") == 0


@pytest.mark.parametrize("raw_id", ["a%00b", "x" * 201, "%E2%98%83-not-there", "..%2F..%2Fetc"])
def test_odd_path_ids_are_404_not_500(client, db, internal_headers, raw_id):
    response = client.post(f"{BASE}/{raw_id}/actions", json={"actions": [action()]}, headers=internal_headers)
    assert response.status_code == 404
    assert response.is_json


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b'{"actions": [', "body"),
        (b"[1, 2]", "body"),
        (b"{}", "actions"),
        (b'{"actions": []}', "actions"),
        (b'{"actions": "many"}', "actions"),
        (b'{"actions": {"0": {}}}', "actions"),
    ],
)
def test_malformed_action_bodies_are_400(client, db, internal_headers, body, field):
    add_persona(db, "p1")
    response = client.post(
        f"{BASE}/p1/actions", data=body, headers=internal_headers, content_type="application/json"
    )
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["error"] in {"BadRequest", "ValidationError"}
    assert field in payload["message"]
    assert count_rows(db, "persona_actions") == 0


def test_more_than_500_actions_is_400(client, db, internal_headers):
    add_persona(db, "p1")
    batch = {"actions": [action(tool=f"t{i}") for i in range(501)]}
    response = client.post(f"{BASE}/p1/actions", json=batch, headers=internal_headers)
    assert response.status_code == 400
    assert "500" in response.get_json()["message"]
    assert count_rows(db, "persona_actions") == 0


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"tickId": None}, "tickId"),
        ({"tickId": 12}, "tickId"),
        ({"tickId": ""}, "tickId"),
        ({"tickId": "a\x00b"}, "tickId"),
        ({"tickId": "t" * 201}, "tickId"),
        ({"toolName": ["x"]}, "toolName"),
        ({"result": "maybe"}, "result"),
        ({"latencyMs": "12"}, "latencyMs"),
        ({"latencyMs": 2.5}, "latencyMs"),
        ({"latencyMs": True}, "latencyMs"),
        ({"latencyMs": -1}, "latencyMs"),
        ({"latencyMs": 2**40}, "latencyMs"),
        ({"errorMessage": "e" * 4001}, "errorMessage"),
        ({"inputHash": 5}, "inputHash"),
    ],
)
def test_one_invalid_row_rejects_the_batch_naming_row_and_field(client, db, internal_headers, bad, field):
    add_persona(db, "p1")
    rows = [action(tool="good-0"), action(tool="good-1"), {**action(tool="bad"), **bad}]
    response = client.post(f"{BASE}/p1/actions", json={"actions": rows}, headers=internal_headers)
    assert response.status_code == 400
    details = response.get_json()["details"]
    assert details[0]["field"] == f"actions[2].{field}"
    assert details[0]["index"] == 2
    assert count_rows(db, "persona_actions") == 0
    assert db.execute("SELECT last_active_at FROM personas.personas").fetchone()[0] is None


def test_every_problem_of_a_batch_is_listed(client, db, internal_headers):
    add_persona(db, "p1")
    rows = [{"toolName": "x", "result": "ok"}, action(), {"tickId": "t", "toolName": "y", "result": 1}]
    details = client.post(f"{BASE}/p1/actions", json={"actions": rows}, headers=internal_headers).get_json()[
        "details"
    ]
    assert [d["field"] for d in details] == ["actions[0].tickId", "actions[2].result"]


def test_unknown_extra_fields_are_ignored(client, db, internal_headers):
    add_persona(db, "p1")
    response = client.post(
        f"{BASE}/p1/actions", json={"actions": [action(mood="grumpy")], "x": 1}, headers=internal_headers
    )
    assert response.status_code == 200


# --- feedback ----------------------------------------------------------------------------


def test_feedback_is_stored_and_the_first_rating_of_a_module_in_a_tick_wins(client, db, internal_headers):
    add_persona(db, "p1")
    batch = {
        "feedback": [
            rating(value=2, notes="slow"),
            rating(module="notes", value=5),
            rating(value=5, notes="second thoughts"),
        ]
    }
    response = client.post(f"{BASE}/p1/feedback", json=batch, headers=internal_headers)
    assert response.get_json() == {"ok": True, "written": 3, "new": 2}
    again = client.post(f"{BASE}/p1/feedback", json={"feedback": [rating(value=1)]}, headers=internal_headers)
    assert again.get_json()["new"] == 0
    rows = db.execute(
        "SELECT id, module, rating, notes FROM personas.persona_feedback ORDER BY id"
    ).fetchall()
    assert rows == [("tick-1-notes", "notes", 5, None), ("tick-1-todo", "todo", 2, "slow")]


@pytest.mark.parametrize("value", [0, 6, 2.5, "3", True, None, -1])
def test_a_rating_must_be_an_integer_from_1_to_5(client, db, internal_headers, value):
    add_persona(db, "p1")
    response = client.post(
        f"{BASE}/p1/feedback",
        json={"feedback": [rating(), rating("t2", value=value)]},
        headers=internal_headers,
    )
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == "feedback[1].rating"
    assert count_rows(db, "persona_feedback") == 0


def test_feedback_batches_hold_1_to_100_rows(client, db, internal_headers):
    add_persona(db, "p1")
    too_many = {"feedback": [rating(module=f"m{i}") for i in range(101)]}
    assert client.post(f"{BASE}/p1/feedback", json=too_many, headers=internal_headers).status_code == 400
    assert (
        client.post(f"{BASE}/p1/feedback", json={"feedback": []}, headers=internal_headers).status_code == 400
    )
    hundred = {"feedback": [rating(module=f"m{i}") for i in range(100)]}
    assert client.post(f"{BASE}/p1/feedback", json=hundred, headers=internal_headers).status_code == 200


def test_feedback_for_an_unknown_persona_is_404(client, db, internal_headers):
    response = client.post(f"{BASE}/ghost/feedback", json={"feedback": [rating()]}, headers=internal_headers)
    assert response.status_code == 404
    assert count_rows(db, "persona_feedback") == 0


def test_feedback_notes_with_nul_are_rejected(client, db, internal_headers):
    add_persona(db, "p1")
    response = client.post(
        f"{BASE}/p1/feedback", json={"feedback": [rating(notes="bad\x00note")]}, headers=internal_headers
    )
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == "feedback[0].notes"


# --- text as JavaScript runners send it -----------------------------------------------------

REPLACEMENT = "\ufffd"


def post_raw(client, path: str, body: bytes, headers: dict[str, str]):
    return client.post(path, data=body, headers=headers, content_type="application/json")


@pytest.mark.parametrize("escape", [rb"\ud83d", rb"\uD83D", rb"\uDE00", rb"\udBfF"])
def test_a_lone_surrogate_escape_is_stored_as_a_replacement_character(client, db, internal_headers, escape):
    add_persona(db, "p1")
    actions = (
        b'{"actions": [{"tickId": "t' + escape + b'", "toolName": "todo.create", "result": "error",'
        b' "errorMessage": "cut ' + escape + b'"}]}'
    )
    feedback = (
        b'{"feedback": [{"tickId": "t1", "module": "to'
        + escape
        + b'do", "rating": 2, "notes": "'
        + escape
        + b'"}]}'
    )
    first = post_raw(client, f"{BASE}/p1/actions", actions, internal_headers)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"ok": True, "written": 1, "new": 1}
    # The key is made from the stored text: a retry of the same bytes writes nothing new.
    assert post_raw(client, f"{BASE}/p1/actions", actions, internal_headers).get_json()["new"] == 0
    assert post_raw(client, f"{BASE}/p1/feedback", feedback, internal_headers).status_code == 200
    assert db.execute("SELECT id, tick_id, error_message FROM personas.persona_actions").fetchall() == [
        (f"t{REPLACEMENT}-0-todo.create", f"t{REPLACEMENT}", f"cut {REPLACEMENT}")
    ]
    assert db.execute("SELECT module, notes FROM personas.persona_feedback").fetchall() == [
        (f"to{REPLACEMENT}do", REPLACEMENT)
    ]


def test_an_emoji_cut_in_half_by_the_typescript_runner_is_stored_with_a_replacement_character(
    client, db, internal_headers
):
    add_persona(db, "p1")
    note = "x" * 999 + "\N{GRINNING FACE} and more"
    cut = utf16_slice(note, 1000)  # what `notes.slice(0, 1000)` leaves: half an emoji at the end
    assert cut.endswith("\ud83d")
    body = as_javascript_sends({"feedback": [rating(notes=cut)], "actions": []})
    assert rb"\ud83d" in body
    response = post_raw(client, f"{BASE}/p1/feedback", body, internal_headers)
    assert response.status_code == 200, response.get_json()
    stored = db.execute("SELECT notes FROM personas.persona_feedback").fetchone()[0]
    assert stored == "x" * 999 + REPLACEMENT


def test_a_whole_surrogate_pair_and_an_escaped_backslash_are_kept_as_written(client, db, internal_headers):
    add_persona(db, "p1")
    body = (
        rb'{"feedback": [{"tickId": "t1", "module": "todo", "rating": 3, "notes": "\ud83d\ude00 \\ud83d"}]}'
    )
    assert post_raw(client, f"{BASE}/p1/feedback", body, internal_headers).status_code == 200
    assert (
        db.execute("SELECT notes FROM personas.persona_feedback").fetchone()[0] == "\N{GRINNING FACE} \\ud83d"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (rb'{"actions": [{"tickId": "t1", "toolName": "x", "result": "ok", "errorMessage": "\ud83d\u0000"}]}',
         "actions[0].errorMessage"),
        (b'{"actions": [{"tickId": "t1", "toolName": "x", "result": "ok", "errorMessage": "'
         + rb"\ud83d" * (TEXT_MAX + 1) + b'"}]}', "actions[0].errorMessage"),
        (rb'{"actions": [{"tickId": "t1", "toolName": "x", "result": "maybe\ud83d"}]}', "actions[0].result"),
    ],
    ids=["nul-beside-a-surrogate", "over-the-cap", "not-an-allowed-value"],
)  # fmt: skip
def test_text_with_lone_surrogates_keeps_every_other_rule(client, db, internal_headers, body, field):
    add_persona(db, "p1")
    response = post_raw(client, f"{BASE}/p1/actions", body, internal_headers)
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == field
    assert count_rows(db, "persona_actions") == 0


def test_lone_surrogates_up_to_the_cap_are_accepted(client, db, internal_headers):
    add_persona(db, "p1")
    row = {"tickId": "t1", "toolName": "x", "result": "error", "errorMessage": "\ud83d" * TEXT_MAX}
    response = post_raw(
        client, f"{BASE}/p1/actions", as_javascript_sends({"actions": [row]}), internal_headers
    )
    assert response.status_code == 200, response.get_json()
    assert (
        db.execute("SELECT error_message FROM personas.persona_actions").fetchone()[0]
        == REPLACEMENT * TEXT_MAX
    )


def test_a_body_that_is_not_json_stays_400_even_with_a_lone_surrogate(client, db, internal_headers):
    add_persona(db, "p1")
    response = post_raw(client, f"{BASE}/p1/feedback", rb'{"feedback": ["\ud83d", NaN]}', internal_headers)
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["message"]


# --- under a real server ----------------------------------------------------------------------


def test_concurrent_retries_of_a_500_row_batch_store_each_row_once(live_api, db):
    add_persona(db, "p1")
    batch = {"actions": [action(tick="tick-c", tool=f"tool-{i % 7}", latencyMs=i) for i in range(500)]}
    url = f"{live_api.url}{BASE}/p1/actions"

    def post(_: int) -> dict:
        response = requests.post(url, json=batch, headers={"X-Service-Key": SERVICE_KEY}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(post, range(24)))
    assert all(r["written"] == 500 for r in results)
    assert sum(r["new"] for r in results) == 500
    assert count_rows(db, "persona_actions") == 500


def test_live_server_answers_json_for_bad_input(live_api, db):
    add_persona(db, "p1")
    response = requests.post(
        f"{live_api.url}{BASE}/p1/actions",
        data=b"\xff\xfe not utf8",
        headers={"X-Service-Key": SERVICE_KEY, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "BadRequest"


def test_live_server_stores_a_half_emoji_from_the_typescript_runner(live_api, db):
    add_persona(db, "p1")
    error = utf16_slice("timeout \N{HOURGLASS WITH FLOWING SAND}\N{PILE OF POO}", 10)
    body = as_javascript_sends(
        {"actions": [{"tickId": "t1", "toolName": "todo.create", "result": "error", "errorMessage": error}]}
    )
    response = requests.post(
        f"{live_api.url}{BASE}/p1/actions",
        data=body,
        headers={"X-Service-Key": SERVICE_KEY, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    stored = db.execute("SELECT error_message FROM personas.persona_actions").fetchone()[0]
    assert stored == "timeout \N{HOURGLASS WITH FLOWING SAND}\ufffd"


# --- row keys are columns, not concatenated strings ---------------------------------------


def test_feedback_whose_concatenated_keys_match_is_two_rows(client, db, internal_headers):
    add_persona(db, "p1")
    first = {"feedback": [rating("fc-a", "b-c", 2)]}
    second = {"feedback": [rating("fc-a-b", "c", 5)]}
    assert client.post(f"{BASE}/p1/feedback", json=first, headers=internal_headers).get_json()["new"] == 1
    assert client.post(f"{BASE}/p1/feedback", json=second, headers=internal_headers).get_json()["new"] == 1
    rows = db.execute(
        "SELECT id, tick_id, module, rating FROM personas.persona_feedback ORDER BY rating"
    ).fetchall()
    # The ids clients read stay the runner's strings, the same for both.
    assert rows == [("fc-a-b-c", "fc-a", "b-c", 2), ("fc-a-b-c", "fc-a-b", "c", 5)]
    # Both in one batch are two rows too; a retry of either adds nothing.
    both = {"feedback": [rating("fc-x", "y-z"), rating("fc-x-y", "z")]}
    assert client.post(f"{BASE}/p1/feedback", json=both, headers=internal_headers).get_json()["new"] == 2
    assert client.post(f"{BASE}/p1/feedback", json=both, headers=internal_headers).get_json()["new"] == 0


def test_actions_whose_concatenated_keys_match_are_two_rows(client, db, internal_headers):
    add_persona(db, "p1")
    # Tick `a-0`, call 0, tool `b` and tick `a`, call 0, tool `0-b` both concatenate to a-0-0-b.
    first = {"actions": [action("a-0", "b")]}  # id a-0-0-b
    second = {"actions": [action("a", "0-b"), action("a", "0-b")]}  # ids a-0-0-b, a-1-0-b
    assert client.post(f"{BASE}/p1/actions", json=first, headers=internal_headers).get_json()["new"] == 1
    assert client.post(f"{BASE}/p1/actions", json=second, headers=internal_headers).get_json()["new"] == 2
    assert client.post(f"{BASE}/p1/actions", json=second, headers=internal_headers).get_json()["new"] == 0
    ids = sorted(r[0] for r in db.execute("SELECT id FROM personas.persona_actions"))
    assert ids == ["a-0-0-b", "a-0-0-b", "a-1-0-b"]
