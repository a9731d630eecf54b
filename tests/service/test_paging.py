"""The two lists that grow with the fleet, /due and the admin list: streamed whole, or
paged with `limit` and `cursor` on request; and the bound on insights' stale personas."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import requests

from personas.insights import STALE_LIMIT
from personas.jsonio import OrjsonProvider
from personas.queries import queries
from personas.response_shapes import DueList, PersonaList
from personas.streaming import MAX_BATCH_ROWS
from personas.validation import PROMPT_MAX
from tests.conftest import SERVICE_KEY
from tests.service.factories import UNPAGED, add_persona
from tests.support.auth import bearer

DUE = "/api/v1/personas/internal/due"
ADMIN = "/api/v1/personas/admin"
INSIGHTS = "/api/v1/personas/admin/insights"


@pytest.fixture
def as_admin(admin_token) -> dict[str, str]:
    return bearer(admin_token)


def walk(client, path: str, headers: dict, limit: int, between=lambda page: None) -> list[list[str]]:
    """Every page of a list, following nextCursor; `between` runs after each page."""
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, query_string=params, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append([p["userId"] for p in body["personas"]])
        between(len(pages))
        cursor = body.get("nextCursor")
        if cursor is None:
            return pages
        assert len(body["personas"]) == limit
        assert len(pages) < 100, "paging does not end"


def seed_due_fleet(db) -> list[str]:
    """Due personas in every position of the due order: never active, ties on the same
    moment, distinct moments; plus some that are not due."""
    now = datetime.now(UTC)
    tie = now - timedelta(days=3)
    for i in range(7):
        add_persona(db, f"never-{i}")
    for i in range(6):
        add_persona(db, f"tie-{i}", last_active=tie)
    for i in range(8):
        add_persona(db, f"old-{i}", last_active=now - timedelta(days=2, hours=i))
    for i in range(3):
        add_persona(db, f"busy-{i}", last_active=now - timedelta(minutes=5))
    return [p["userId"] for p in queries.internal.due_personas(db, now=None, **UNPAGED)]


# --- paging ---------------------------------------------------------------------------------


def test_due_pages_hand_out_every_due_persona_once_while_personas_are_added(client, db, internal_headers):
    due = seed_due_fleet(db)
    assert len(due) == 21
    now = datetime.now(UTC)

    def add_some(page: int) -> None:
        # Newcomers land before the cursor (never active), after it (long idle) or nowhere.
        add_persona(db, f"new-never-{page}")
        add_persona(db, f"new-idle-{page}", last_active=now - timedelta(days=1, hours=1))
        add_persona(db, f"new-busy-{page}", last_active=now)

    pages = walk(client, DUE, internal_headers, limit=4, between=add_some)
    seen = [pid for page in pages for pid in page]
    assert len(seen) == len(set(seen)), "a persona was handed out twice"
    originals = [pid for pid in seen if not pid.startswith("new-")]
    assert originals == due, "every persona due at the start, once, in the due order"
    assert not any(pid.startswith("new-busy") for pid in seen)


def test_admin_pages_hand_out_every_persona_once_while_personas_are_added(client, db, as_admin):
    now = datetime.now(UTC)
    for i in range(9):
        add_persona(db, f"same-moment-{i}", created_at=now - timedelta(days=1))
    for i in range(8):
        add_persona(db, f"older-{i}", created_at=now - timedelta(days=2, minutes=i))
    everyone = [p["userId"] for p in client.get(ADMIN, headers=as_admin).get_json()["personas"]]

    pages = walk(client, ADMIN, as_admin, limit=5, between=lambda page: add_persona(db, f"new-{page}"))
    seen = [pid for page in pages for pid in page]
    assert seen == everyone, "each persona once, newest first; newcomers sort before the cursor"
    assert [len(page) for page in pages] == [5, 5, 5, 2]


def test_a_limit_covering_the_list_has_no_next_cursor(client, db, internal_headers):
    due = seed_due_fleet(db)
    body = client.get(DUE, query_string={"limit": len(due)}, headers=internal_headers).get_json()
    assert [p["userId"] for p in body["personas"]] == due
    assert "nextCursor" not in body


def test_an_exhausted_cursor_gives_an_empty_page_with_the_clock(client, db, internal_headers):
    add_persona(db, "only")
    first = client.get(DUE, query_string={"limit": 1}, headers=internal_headers).get_json()
    assert [p["userId"] for p in first["personas"]] == ["only"] and "nextCursor" not in first
    # A cursor kept from earlier, after which nothing is due any more.
    add_persona(db, "second", last_active=datetime.now(UTC) - timedelta(days=2))
    first = client.get(DUE, query_string={"limit": 1}, headers=internal_headers).get_json()
    db.execute("UPDATE personas.personas SET last_active_at = now() WHERE user_id = 'second'")
    rest = client.get(DUE, query_string={"cursor": first["nextCursor"]}, headers=internal_headers)
    assert rest.status_code == 200
    assert rest.get_json()["personas"] == [] and set(rest.get_json()) == {"personas", "serverTime"}


def as_json(rows: list[dict]) -> list[dict]:
    """Rows as the service writes them to JSON."""
    return orjson.loads(orjson.dumps(rows, option=OrjsonProvider.options))


def forged(parts: list) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(parts)).decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "5001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"cursor": ""}, "cursor"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": "x" * 600}, "cursor"),
        ({"cursor": forged(["admin", "2026-01-01T00:00:00+00:00", "p1"])}, "cursor"),
        ({"cursor": forged(["due", "yesterday", "p1"])}, "cursor"),
        ({"cursor": forged(["due", "2026-01-01T00:00:00", "p1"])}, "cursor"),
        ({"cursor": forged(["due", None, ""])}, "cursor"),
        ({"cursor": forged(["due", None, 7])}, "cursor"),
        ({"cursor": forged({"due": 1})}, "cursor"),
    ],
)
def test_a_bad_limit_or_cursor_of_due_is_400_naming_the_field(client, db, internal_headers, params, field):
    response = client.get(DUE, query_string=params, headers=internal_headers)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "ValidationError"
    assert [d["field"] for d in body["details"]] == [field]


@pytest.mark.parametrize(
    "cursor",
    [
        forged(["due", None, "p1"]),
        forged(["admin", None, "p1"]),
        "%%%",
        forged(["admin", "2026-13-01", "p1"]),
    ],
)
def test_a_bad_cursor_of_the_admin_list_is_400_naming_cursor(client, db, as_admin, cursor):
    response = client.get(ADMIN, query_string={"cursor": cursor}, headers=as_admin)
    assert response.status_code == 400
    assert [d["field"] for d in response.get_json()["details"]] == ["cursor"]


# --- the whole list, streamed ---------------------------------------------------------------


def test_unpaged_due_is_the_answer_it_always_was(client, db, internal_headers):
    seed_due_fleet(db)
    response = client.get(DUE, headers=internal_headers)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == ["personas", "serverTime"]
    expected = queries.internal.due_personas(db, now=None, **UNPAGED)
    assert body["personas"] == as_json(expected)
    DueList.model_validate(body)


def test_unpaged_admin_list_is_the_answer_it_always_was(client, db, as_admin):
    for i in range(3):
        add_persona(db, f"p{i}")
    body = client.get(ADMIN, headers=as_admin).get_json()
    assert list(body) == ["personas"] and len(body["personas"]) == 3
    PersonaList.model_validate(body)
    assert client.get(ADMIN, headers=as_admin).get_json() == body


def add_large_personas(db, count: int, prompt_chars: int = PROMPT_MAX) -> None:
    """`count` never-active personas with prompts of `prompt_chars` characters, in one statement."""
    db.execute(
        "INSERT INTO personas.personas (user_id, email, archetype, system_prompt, module_mix, tick_cadence)"
        " SELECT 'big-' || lpad(g::text, 5, '0'), 'big-' || g || '@mana.test', 'solo-dev',"
        " left(repeat('A persona \"quoted\" with a line break\n and more. ', %s), %s),"
        " '{\"todo\": 1.5}', 'hourly' FROM generate_series(1, %s) g",
        (prompt_chars // 40 + 1, prompt_chars, count),
    )


def test_a_streamed_due_over_many_batches_parses_and_matches_the_rows(live_api, db):
    count = 2 * MAX_BATCH_ROWS + 37
    add_large_personas(db, count, prompt_chars=3000)
    response = requests.get(live_api.url + DUE, headers={"X-Service-Key": SERVICE_KEY}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers.get("Transfer-Encoding") == "chunked"
    body = orjson.loads(response.content)
    assert list(body) == ["personas", "serverTime"]
    assert [p["userId"] for p in body["personas"]] == [f"big-{n:05d}" for n in range(1, count + 1)]
    expected = queries.internal.due_personas(db, now=None, **UNPAGED)
    assert body["personas"] == as_json(expected)
    # Byte for byte what one orjson document of the whole answer would be.
    assert orjson.dumps(body, option=OrjsonProvider.options) == response.content
    DueList.model_validate(body)


def open_transactions(db) -> int:
    return db.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'personas-api'"
        " AND state LIKE 'idle in transaction%'"
    ).fetchone()[0]


def wait_for_no_open_transaction(db, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while open_transactions(db) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_transactions(db) == 0, "a stream kept its connection (and transaction) after it ended"


def test_a_database_failure_mid_stream_breaks_the_transfer_and_the_service_recovers(live_api, db):
    # 30 MB: far more than the socket buffers hold, so the stream is mid-way when it breaks.
    add_large_personas(db, 1500)
    headers = {"X-Service-Key": SERVICE_KEY}
    with requests.get(live_api.url + DUE, headers=headers, timeout=30, stream=True) as response:
        assert response.status_code == 200
        chunks = response.iter_content(1024)
        start = next(chunks) + next(chunks)
        assert start.startswith(b'{"personas":[{')
        # The backend serving this stream: inside its transaction, at or between FETCHes
        # (a pooled connection whose last statement was a FETCH is idle, outside one).
        killed, deadline = 0, time.monotonic() + 5
        while not killed and time.monotonic() < deadline:
            killed = db.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'personas-api'"
                " AND state <> 'idle' AND query LIKE 'FETCH%%'"
            ).fetchone()[0]
        assert killed == 1
        received = len(start)
        # Never a shorter list that parses: the transfer itself fails.
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in chunks:
                received += len(chunk)
        assert received < 25_000_000
    for _ in range(4):  # each worker's pool drops the broken connection and serves again
        assert requests.get(live_api.url + DUE, headers=headers, timeout=30).status_code == 200
    wait_for_no_open_transaction(db)


def test_a_client_leaving_mid_stream_gives_the_connection_back(live_api, db):
    add_large_personas(db, 1500)
    headers = {"X-Service-Key": SERVICE_KEY}
    for _ in range(3):
        with requests.get(live_api.url + DUE, headers=headers, timeout=30, stream=True) as response:
            assert next(response.iter_content(1024)).startswith(b'{"personas":[')
    wait_for_no_open_transaction(db)
    response = requests.get(live_api.url + DUE, headers=headers, timeout=30)
    assert len(orjson.loads(response.content)["personas"]) == 1500


# --- insights: stale is bounded -------------------------------------------------------------


def test_insights_list_at_most_the_most_overdue_stale_personas_and_count_them_all(client, db, as_admin):
    db.execute(
        "INSERT INTO personas.personas (user_id, email, archetype, system_prompt, module_mix,"
        " tick_cadence, last_active_at)"
        " SELECT 'stale-' || lpad(g::text, 4, '0'), 'stale-' || g || '@mana.test', 'solo-dev',"
        " 'x', '{}', 'hourly', now() - interval '1 day' - g * interval '1 minute'"
        " FROM generate_series(1, %s) g",
        (STALE_LIMIT + 5,),
    )
    body = client.get(INSIGHTS, headers=as_admin).get_json()
    assert body["staleTotal"] == STALE_LIMIT + 5
    ids = [s["userId"] for s in body["stale"]]
    assert len(ids) == STALE_LIMIT
    assert ids[0] == f"stale-{STALE_LIMIT + 5:04d}" and "stale-0001" not in ids  # most overdue first
