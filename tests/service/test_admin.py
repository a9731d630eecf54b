"""The admin routes, through real HTTP to the mana-auth stand-in."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import requests
from psycopg.types.json import Jsonb

from personas.queries import queries
from personas.response_shapes import PersonaDescriptor, PersonaSummary
from personas.validation import PersonaListed, PersonaUpsert
from tests.conftest import SERVICE_KEY, running_app, running_web
from tests.devauth_fixtures import add_fault, mint_token
from tests.service.factories import (
    add_action,
    add_persona,
    add_tick,
    as_javascript_sends,
    count_rows,
    utf16_slice,
)
from tests.support.auth import bearer
from tests.support.refusals import assert_refused_naming

BASE = "/api/v1/personas/admin"


def new_email() -> str:
    return f"p-{uuid.uuid4().hex[:12]}@mana.test"


def upsert_body(email: str, **changes) -> dict:
    return {
        "email": email,
        "password": "correct horse battery",
        "archetype": "solo-dev",
        "systemPrompt": "Sam ships side projects at night and hates friction.",
        "moduleMix": {"todo": 3, "notes": 1.5},
        "name": "Sam",
        "tickCadence": "hourly",
        **changes,
    }


def stored_user(devauth, user_id: str) -> requests.Response:
    return requests.get(f"{devauth.url}/dev/users/{user_id}", timeout=10)


def register_human(devauth, email: str) -> str:
    response = requests.post(
        f"{devauth.url}/api/v1/auth/register",
        json={"email": email, "password": "human-password-1", "name": "Human"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["user"]["id"]


@pytest.fixture
def short_timeouts_app(config):
    """The service with a 1 s read timeout towards mana-auth, for stall tests."""
    with running_app(replace(config, upstream_read_timeout=1.0)) as app:
        yield app


# --- POST / --------------------------------------------------------------------------------


def test_upsert_creates_a_stamped_persona(client, db, devauth, admin_token):
    email = new_email()
    response = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["ok"] is True and body["email"] == email and body["created"] is True
    user = stored_user(devauth, body["userId"]).json()
    assert user["kind"] == "persona"
    assert user["accessTier"] == "founder"
    assert user["emailVerified"] is True
    row = db.execute(
        "SELECT email, archetype, module_mix, tick_cadence FROM personas.personas WHERE user_id = %s",
        (body["userId"],),
    ).fetchone()
    assert row == (email, "solo-dev", {"todo": 3, "notes": 1.5}, "hourly")


def test_upsert_is_idempotent_and_updates_only_the_descriptor(client, db, admin_token):
    email = new_email()
    first = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token)).get_json()
    again = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token)).get_json()
    assert again == {**first, "created": False}
    changed = upsert_body(email, archetype="researcher", moduleMix={"notes": 2}, tickCadence="weekdays")
    updated = client.post(BASE, json=changed, headers=bearer(admin_token)).get_json()
    assert updated["userId"] == first["userId"] and updated["created"] is False
    assert count_rows(db, "personas") == 1
    row = db.execute("SELECT archetype, module_mix, tick_cadence FROM personas.personas").fetchone()
    assert row == ("researcher", {"notes": 2}, "weekdays")


def test_upsert_adopts_an_existing_mana_auth_user_of_the_persona_domain(client, devauth, admin_token, db):
    email = new_email()
    existing = register_human(devauth, email)
    body = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token)).get_json()
    assert body["userId"] == existing and body["created"] is True
    assert stored_user(devauth, existing).json()["kind"] == "persona"


def test_upsert_refuses_an_email_outside_the_persona_domain(client, devauth, admin_token, db):
    email = f"alice-{uuid.uuid4().hex[:8]}@example.com"
    human = register_human(devauth, email)
    response = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token))
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == "email"
    assert stored_user(devauth, human).json()["kind"] == "human"
    assert count_rows(db, "personas") == 0


@pytest.mark.parametrize("email", ["eve@mana.test.evil.com", "eve@notmana.test", "eve@mana.testx"])
def test_lookalike_domains_are_refused(client, admin_token, db, email):
    response = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token))
    assert response.status_code == 400


def test_an_email_with_two_at_signs_is_400_naming_email(client, devauth, admin_token, db):
    email = f"a@{uuid.uuid4().hex[:8]}@mana.test"
    response = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token))
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == "email"
    assert count_rows(db, "personas") == 0


def test_upsert_validation_lists_every_problem(client, admin_token, db):
    body = {
        "email": "not-an-email",
        "password": "short",
        "moduleMix": {"todo": -1, "notes": "lots"},
        "tickCadence": "monthly",
        "name": 5,
    }
    response = client.post(BASE, json=body, headers=bearer(admin_token))
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["error"] == "ValidationError"
    fields = {d["field"] for d in payload["details"]}
    assert {
        "email",
        "password",
        "archetype",
        "systemPrompt",
        "moduleMix.todo",
        "moduleMix.notes",
        "tickCadence",
        "name",
    } <= fields
    assert count_rows(db, "personas") == 0


def admin_row(client, token: str, user_id: str) -> tuple[dict, dict]:
    """The persona as the admin list and the admin detail show it."""
    listed = client.get(BASE, headers=bearer(token)).get_json()["personas"]
    detail = client.get(f"{BASE}/{user_id}", headers=bearer(token)).get_json()["persona"]
    return next(p for p in listed if p["userId"] == user_id), detail


def test_list_and_detail_carry_the_name_from_the_upsert_body(client, db, admin_token):
    email = new_email()
    user_id = client.post(
        BASE, json=upsert_body(email, name="Sam Rivera"), headers=bearer(admin_token)
    ).get_json()["userId"]
    listed, detail = admin_row(client, admin_token, user_id)
    assert listed["name"] == detail["name"] == "Sam Rivera"
    assert db.execute("SELECT name FROM personas.personas").fetchone()[0] == "Sam Rivera"
    client.post(BASE, json=upsert_body(email, name="Sam R."), headers=bearer(admin_token))
    assert [p["name"] for p in admin_row(client, admin_token, user_id)] == ["Sam R.", "Sam R."]


def test_every_setting_upserted_is_in_the_detail_and_the_listed_ones_in_the_list(client, db, admin_token):
    # Driven by the models: a setting added to them but not to the SQL shapes fails here.
    body = upsert_body(new_email())
    settings = PersonaUpsert.model_validate(body).settings_dump()
    user_id = client.post(BASE, json=body, headers=bearer(admin_token)).get_json()["userId"]
    listed, detail = admin_row(client, admin_token, user_id)
    assert set(detail) == set(PersonaDescriptor.model_fields)
    assert {k: detail[k] for k in settings} == settings
    assert set(listed) == set(PersonaSummary.model_fields)
    assert {k: listed[k] for k in PersonaListed.model_fields} == {
        k: settings[k] for k in PersonaListed.model_fields
    }


def test_without_a_name_in_the_body_the_name_comes_from_mana_auth(client, db, devauth, admin_token):
    found = new_email()
    register_human(devauth, found)  # mana-auth already knows this user, as "Human"
    body = upsert_body(found)
    del body["name"]
    user_id = client.post(BASE, json=body, headers=bearer(admin_token)).get_json()["userId"]
    assert [p["name"] for p in admin_row(client, admin_token, user_id)] == ["Human", "Human"]

    registered = new_email()
    body = upsert_body(registered)
    del body["name"]
    user_id = client.post(BASE, json=body, headers=bearer(admin_token)).get_json()["userId"]
    # Registered here under the address's local part: the name mana-auth now holds.
    local = registered.split("@")[0]
    assert [p["name"] for p in admin_row(client, admin_token, user_id)] == [local, local]
    assert stored_user(devauth, user_id).json()["name"] == local


def test_a_name_once_stored_is_kept_by_an_upsert_that_learns_none(db):
    # mana-auth may hold no name for a user; the upsert then passes none, and the stored
    # name must not turn null.
    add_persona(db, "p1", name="Kept Name")
    settings = {
        "archetype": "researcher",
        "systemPrompt": "x",
        "moduleMix": {"todo": 1},
        "tickCadence": "daily",
    }
    upsert = queries.admin.upsert_persona
    assert upsert(db, user_id="p1", email="p1@mana.test", settings=Jsonb({**settings, "name": None})) is False
    assert db.execute("SELECT name, archetype FROM personas.personas").fetchone() == (
        "Kept Name",
        "researcher",
    )
    assert (
        upsert(db, user_id="p1", email="p1@mana.test", settings=Jsonb({**settings, "name": "New Name"}))
        is False
    )
    assert db.execute("SELECT name FROM personas.personas").fetchone() == ("New Name",)


def test_upsert_accepts_the_products_own_module_names_and_archetypes(client, db, admin_token):
    # What the original seed posts: modules and archetypes beyond our catalog's.
    mix = {"mood": 1, "newsResearch": 0.5, "invoices": 0, "deep_work": 2}
    body = upsert_body(new_email(), archetype="small-business-owner", moduleMix=mix)
    response = client.post(BASE, json=body, headers=bearer(admin_token))
    assert response.status_code == 200, response.get_json()
    row = db.execute("SELECT archetype, module_mix FROM personas.personas").fetchone()
    assert row == ("small-business-owner", mix)


def test_upsert_stores_lone_surrogates_in_its_text_fields_as_replacement_characters(client, db, admin_token):
    email = new_email()
    prompt = utf16_slice("Sam ships side projects at night \N{ROCKET} and hates friction.", 34)
    body = upsert_body(
        email, systemPrompt=prompt, archetype="solo-dev\udc80", moduleMix={"to\ud83ddo": 2}, name="Sam \ud83d"
    )
    wire = as_javascript_sends(body).replace(rb"\udc80", rb"\uDC80")  # upper-case hex too
    response = client.post(BASE, data=wire, headers=bearer(admin_token), content_type="application/json")
    assert response.status_code == 200, response.get_json()
    row = db.execute("SELECT system_prompt, archetype, module_mix, name FROM personas.personas").fetchone()
    assert row == (
        "Sam ships side projects at night \ufffd",
        "solo-dev\ufffd",
        {"to\ufffddo": 2},
        "Sam \ufffd",
    )


def test_upsert_text_with_a_lone_surrogate_still_refuses_nul(client, db, admin_token):
    wire = as_javascript_sends(upsert_body(new_email(), systemPrompt="half \ud83d\x00"))
    response = client.post(BASE, data=wire, headers=bearer(admin_token), content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == "systemPrompt"
    assert count_rows(db, "personas") == 0


@pytest.mark.parametrize("body", [b"nope", b"[]", b'"string"', b"{}"])
def test_upsert_with_a_malformed_body_is_400(client, admin_token, body):
    response = client.post(BASE, data=body, headers=bearer(admin_token), content_type="application/json")
    assert response.status_code == 400


def test_concurrent_upserts_of_one_email_end_in_one_persona(live_api, devauth, db):
    """Calls to mana-auth wait their turn: never a 503 while mana-auth is healthy."""
    email = new_email()
    token = mint_token(devauth)
    start = threading.Barrier(8)

    def post(_: int) -> requests.Response:
        start.wait()
        return requests.post(
            f"{live_api.url}{BASE}", json=upsert_body(email), headers=bearer(token), timeout=30
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, range(8)))
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    results = [a.json() for a in answers]
    assert len({r["userId"] for r in results}) == 1
    assert sum(r["created"] for r in results) == 1
    assert count_rows(db, "personas") == 1


def test_an_upsert_whose_registration_lost_a_race_stores_the_users_own_id(
    app, db, devauth_verifying_emails, devauth_clear_faults, admin_token, database_url
):
    """With email verification on, registering a taken email answers 200 with a made-up id:
    one of two upserts that both found no user is told such an id, and must not keep it."""
    email = new_email()
    add_fault(devauth_clear_faults, "/api/v1/auth/register", method="POST", delayMs=1500)

    def upsert() -> dict:
        response = app.test_client().post(BASE, json=upsert_body(email), headers=bearer(admin_token))
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    with ThreadPoolExecutor(max_workers=1) as pool:
        stalled = pool.submit(upsert)  # finds no user, then stalls in its registration
        wait_for(lambda: fault_taken(database_url), "the first upsert to reach its registration")
        answers = [upsert(), stalled.result()]
    found = requests.get(
        f"{devauth_clear_faults.url}/api/v1/admin/users",
        params={"search": email},
        headers={"X-Service-Key": SERVICE_KEY, **bearer(admin_token)},
        timeout=10,
    ).json()["users"]
    [user_id] = [u["id"] for u in found if u["email"] == email]
    assert [a["userId"] for a in answers] == [user_id, user_id]
    assert sorted(a["created"] for a in answers) == [False, True]
    assert stored_user(devauth_clear_faults, user_id).json()["kind"] == "persona"


def fault_taken(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) = 0 FROM devauth.faults WHERE remaining > 0").fetchone()[0]


def wait_for(condition, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.02)


def test_concurrent_deletes_of_one_persona_answer_200_once_and_404_after(live_api, devauth, db):
    token = mint_token(devauth)
    made = requests.post(
        f"{live_api.url}{BASE}", json=upsert_body(new_email()), headers=bearer(token), timeout=30
    )
    user_id = made.json()["userId"]
    start = threading.Barrier(8)

    def delete(_: int) -> int:
        start.wait()
        return requests.delete(
            f"{live_api.url}{BASE}/{user_id}", headers=bearer(token), timeout=30
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(delete, range(8)))
    assert statuses == [200] + [404] * 7
    assert count_rows(db, "personas") == 0
    assert stored_user(devauth, user_id).status_code == 404


@pytest.fixture(scope="module")
def small_pool_api(service_env):
    """One worker with four pooled connections, each waited for at most 1 s: what a
    request that holds a connection takes from everyone else shows at once."""
    env = {**service_env, "DB_POOL_MAX": "4", "DB_POOL_TIMEOUT": "1"}
    with running_web("web-small-pool", env, workers=1) as api:
        yield api


def test_deletes_waiting_on_mana_auth_hold_no_connection(small_pool_api, devauth_clear_faults, db):
    """Six deletes of one persona while mana-auth takes 2.5 s to delete its user: one 200,
    the rest 404 at once, and a runner claiming meanwhile on the same worker is never
    refused for want of a connection."""
    api, token = small_pool_api.url, mint_token(devauth_clear_faults)
    made = requests.post(f"{api}{BASE}", json=upsert_body(new_email()), headers=bearer(token), timeout=30)
    user_id = made.json()["userId"]
    add_fault(devauth_clear_faults, "/api/v1/admin/users/*", method="DELETE", delayMs=2500)
    start = threading.Barrier(7)

    def delete(_: int) -> int:
        start.wait()
        return requests.delete(f"{api}{BASE}/{user_id}", headers=bearer(token), timeout=30).status_code

    def claim_until(deleted: Future) -> list[int]:
        start.wait()
        statuses = []
        while not deleted.done():
            answer = requests.post(
                f"{api}/api/v1/personas/internal/claims",
                json={"runnerId": "runner-a", "limit": 1},
                headers={"X-Service-Key": SERVICE_KEY},
                timeout=30,
            )
            statuses.append(answer.status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        deletes = [pool.submit(delete, n) for n in range(6)]
        claims = pool.submit(claim_until, pool.submit(lambda: [d.result() for d in deletes]))
        assert sorted(d.result() for d in deletes) == [200] + [404] * 5
        assert claims.result() and set(claims.result()) == {200}, claims.result()
    assert count_rows(db, "personas") == 0


def test_an_upsert_says_whether_its_password_logs_in(client, db, admin_token):
    email = new_email()
    first = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token)).get_json()
    assert first["loginOk"] is True
    # The same persona upserted with another password (another seed secret): its user keeps
    # the first one, so the runner's login would fail; the answer says so.
    rotated = client.post(
        BASE, json=upsert_body(email, password="another secret's password"), headers=bearer(admin_token)
    )
    assert rotated.status_code == 200
    assert rotated.get_json() == {**first, "created": False, "loginOk": False}
    again = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token)).get_json()
    assert again["loginOk"] is True


def test_admin_answers_are_never_cached_or_sniffed(client, db, admin_token):
    for response in (
        client.get(BASE, headers=bearer(admin_token)),
        client.get(f"{BASE}/nobody", headers=bearer(admin_token)),
        client.get(f"{BASE}/insights", headers=bearer(admin_token)),
        client.get(BASE),  # refused at the gate
        client.get(f"{BASE}/nobody/nothing", headers=bearer(admin_token)),  # no such route
        client.put(BASE, headers=bearer(admin_token)),  # no such method
    ):
        assert response.headers["Cache-Control"] == "no-store", response.status_code
        assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- upstream failures --------------------------------------------------------------------------

STEPS = [
    ("find", "/api/v1/admin/users", "GET"),
    ("register", "/api/v1/auth/register", "POST"),
    ("stamp", "/api/v1/internal/users/*", "POST"),
]


@pytest.mark.parametrize(("step", "path", "method"), STEPS)
def test_an_upstream_error_is_502_naming_the_step_and_a_rerun_repairs(
    client, db, devauth_clear_faults, admin_token, step, path, method
):
    email = new_email()
    add_fault(devauth_clear_faults, path, method=method, status=500)
    response = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token))
    assert response.status_code == 502
    assert response.get_json()["error"] == "UpstreamError"
    assert response.get_json()["step"] == step
    assert count_rows(db, "personas") == 0
    repaired = client.post(BASE, json=upsert_body(email), headers=bearer(admin_token))
    assert repaired.status_code == 200
    assert stored_user(devauth_clear_faults, repaired.get_json()["userId"]).json()["kind"] == "persona"
    assert count_rows(db, "personas") == 1


@pytest.mark.parametrize(("step", "path", "method"), STEPS)
def test_a_stalled_upstream_is_504_naming_the_step(
    short_timeouts_app, db, devauth_clear_faults, admin_token, step, path, method
):
    add_fault(devauth_clear_faults, path, method=method, delayMs=2500)
    response = short_timeouts_app.test_client().post(
        BASE, json=upsert_body(new_email()), headers=bearer(admin_token)
    )
    assert response.status_code == 504
    assert response.get_json()["step"] == step


@pytest.mark.parametrize("status", [429, 503])
def test_a_login_check_mana_auth_cannot_answer_leaves_the_persona_stored(
    client, db, devauth_clear_faults, admin_token, status
):
    add_fault(devauth_clear_faults, "/api/v1/auth/login", method="POST", status=status)
    response = client.post(BASE, json=upsert_body(new_email()), headers=bearer(admin_token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["loginOk"] is None
    assert count_rows(db, "personas") == 1


@pytest.fixture
def short_deadline_app(config):
    """The service allowing each request 2 s on mana-auth in all."""
    with running_app(replace(config, upstream_request_deadline=2.0)) as app:
        yield app


def test_a_deadline_the_request_used_up_itself_is_504_naming_the_step(
    short_deadline_app, db, devauth_clear_faults, admin_token
):
    """The find answers just inside the deadline, leaving no time for the registration:
    that is this request's timeout (504), not a mana-auth busy with others (503)."""
    add_fault(devauth_clear_faults, "/api/v1/admin/users", method="GET", delayMs=1850)
    response = short_deadline_app.test_client().post(
        BASE, json=upsert_body(new_email()), headers=bearer(admin_token)
    )
    assert response.status_code == 504, response.get_json()
    assert response.get_json()["step"] in {"find", "register"}
    assert count_rows(db, "personas") == 0


def test_an_unreachable_mana_auth_is_an_upstream_error_not_a_crash(config):
    from devstack.postgres import free_port
    from personas.errors import UpstreamError
    from personas.mana_auth import ManaAuth

    dead = ManaAuth(replace(config, mana_auth_url=f"http://127.0.0.1:{free_port()}"), requests.Session())
    with pytest.raises(UpstreamError) as failure:
        dead.find_user(new_email(), "token")
    assert failure.value.step == "find" and failure.value.status == 502


# --- GET / and GET /:id ----------------------------------------------------------------------------


def add_actions(db, persona: str, count: int, when: datetime, result: str = "ok") -> None:
    db.execute(
        "INSERT INTO personas.persona_actions (persona_id, id, tick_id, tool_name, result, created_at)"
        " SELECT %s, %s || '-' || g, 'tick', 'tool-' || g, %s, %s FROM generate_series(1, %s) g",
        (persona, uuid.uuid4().hex, result, when, count),
    )


def test_list_is_newest_first_with_seven_day_activity(client, db, admin_token):
    now = datetime.now(UTC)
    add_persona(db, "old", created_at=now - timedelta(days=30), name="Olga Old")
    add_persona(db, "new", created_at=now - timedelta(days=1))
    add_actions(db, "old", 3, now - timedelta(days=2))
    add_actions(db, "old", 4, now - timedelta(days=8))
    body = client.get(BASE, headers=bearer(admin_token)).get_json()
    assert [p["userId"] for p in body["personas"]] == ["new", "old"]
    new, old = body["personas"]
    assert new["actions7d"] == 0 and old["actions7d"] == 3
    assert old["name"] == "Olga Old" and new["name"] is None  # a row from before names were stored
    assert set(old) == {
        "userId",
        "email",
        "name",
        "archetype",
        "tickCadence",
        "lastActiveAt",
        "createdAt",
        "actions7d",
    }


@pytest.fixture
def searchable(db) -> None:
    """Five personas to search: two archetypes, three cadences, one failing tick after tick."""
    now = datetime.now(UTC)
    add_persona(
        db, "ann", email="Ann.Lee@mana.test", archetype="researcher", created_at=now - timedelta(hours=5)
    )
    add_persona(db, "bob", email="bob@mana.test", cadence="hourly", created_at=now - timedelta(hours=4))
    add_persona(db, "lee", email="lee@mana.test", cadence="weekdays", created_at=now - timedelta(hours=3))
    add_persona(db, "dan", email="dan@mana.test", archetype="researcher", created_at=now - timedelta(hours=2))
    add_persona(db, "eve", email="eve.lee@mana.test", cadence="hourly", created_at=now - timedelta(hours=1))
    for i, state in enumerate(["ok", "failed", "timeout", "failed", "running"]):
        add_tick(db, "bob", f"b{i}", state=state, started_at=now - timedelta(minutes=50 - i))
    for i, state in enumerate(["failed", "failed", "failed", "ok"]):
        add_tick(db, "eve", f"e{i}", state=state, started_at=now - timedelta(minutes=50 - i))


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ({"email": "lee"}, ["eve", "lee", "ann"]),  # a part of the address, in any case
        ({"email": "ANN."}, ["ann"]),  # a prefix
        ({"email": ""}, ["eve", "dan", "lee", "bob", "ann"]),  # blank: any
        ({"archetype": "researcher"}, ["dan", "ann"]),
        ({"cadence": "hourly"}, ["eve", "bob"]),
        ({"failing": "true"}, ["bob"]),
        ({"failing": "false", "cadence": "hourly"}, ["eve"]),
        ({"email": "lee", "archetype": "solo-dev"}, ["eve", "lee"]),
        ({"email": "100%_"}, []),  # searched as written, no wildcards
    ],
)
def test_the_list_is_searched_by_email_archetype_cadence_and_failing(
    client, admin_token, searchable, search, found
):
    body = client.get(BASE, query_string=search, headers=bearer(admin_token)).get_json()
    assert [p["userId"] for p in body["personas"]] == found


def test_a_searched_list_is_paged_within_the_search(client, admin_token, searchable):
    headers, search = bearer(admin_token), {"email": "lee", "limit": 2}
    first = client.get(BASE, query_string=search, headers=headers).get_json()
    assert [p["userId"] for p in first["personas"]] == ["eve", "lee"]
    rest = client.get(
        BASE, query_string={**search, "cursor": first["nextCursor"]}, headers=headers
    ).get_json()
    assert [p["userId"] for p in rest["personas"]] == ["ann"]
    assert "nextCursor" not in rest


@pytest.mark.parametrize(
    ("search", "field"),
    [
        ({"cadence": "monthly"}, "cadence"),
        ({"failing": "yes"}, "failing"),
        ({"email": "x" * 300}, "email"),
        ({"archetype": "a" * 300}, "archetype"),
        ({"email": "a\x00b"}, "email"),
    ],
)
def test_a_bad_search_is_400_naming_the_field(client, admin_token, search, field):
    assert_refused_naming(client.get(BASE, query_string=search, headers=bearer(admin_token)), field)


def test_detail_has_descriptor_20_newest_actions_and_real_rating_means(client, db, admin_token):
    now = datetime.now(UTC)
    add_persona(db, "p1", name="Pia One")
    add_persona(db, "p2")
    add_actions(db, "p2", 5, now)
    add_actions(db, "p1", 15, now - timedelta(hours=3))
    add_actions(db, "p1", 10, now - timedelta(hours=1), result="error")
    for i, (module, stars, note) in enumerate(
        [("todo", 2, "slow"), ("todo", 3, None), ("todo", 5, "better"), ("notes", 4, None)]
    ):
        db.execute(
            "INSERT INTO personas.persona_feedback (persona_id, id, tick_id, module, rating, notes,"
            " created_at) VALUES ('p1', %s, %s, %s, %s, %s, %s)",
            (f"k{i}", f"t{i}", module, stars, note, now - timedelta(minutes=10 - i)),
        )
    body = client.get(f"{BASE}/p1", headers=bearer(admin_token)).get_json()
    assert body["persona"]["userId"] == "p1" and body["persona"]["systemPrompt"]
    assert body["persona"]["moduleMix"] == {"todo": 3, "calendar": 1}
    assert body["persona"]["name"] == "Pia One"
    assert len(body["recentActions"]) == 20
    assert {a["personaId"] for a in body["recentActions"]} == {"p1"}
    assert [a["result"] for a in body["recentActions"][:10]] == ["error"] * 10
    todo = next(m for m in body["feedbackByModule"] if m["module"] == "todo")
    assert todo["avgRating"] == pytest.approx(3.33, abs=0.01)
    assert todo["count"] == 3
    assert todo["minRating"] == 2 and todo["maxRating"] == 5
    assert todo["lastRating"] == 5 and todo["lastNote"] == "better"


def test_detail_of_an_unknown_persona_is_404(client, admin_token, db):
    assert client.get(f"{BASE}/nobody", headers=bearer(admin_token)).status_code == 404


# --- DELETE /:id --------------------------------------------------------------------------------------


def create_persona(client, token: str) -> str:
    return client.post(BASE, json=upsert_body(new_email()), headers=bearer(token)).get_json()["userId"]


def test_delete_removes_every_row_and_the_mana_auth_user(client, db, devauth, admin_token):
    user_id = create_persona(client, admin_token)
    add_actions(db, user_id, 3, datetime.now(UTC))
    db.execute(
        "INSERT INTO personas.persona_feedback (persona_id, id, tick_id, module, rating)"
        " VALUES (%s, 'k', 't', 'todo', 3)",
        (user_id,),
    )
    response = client.delete(f"{BASE}/{user_id}", headers=bearer(admin_token))
    assert response.get_json() == {"ok": True, "deleted": user_id}
    for table in ("personas", "persona_actions", "persona_feedback"):
        assert count_rows(db, table) == 0
    assert stored_user(devauth, user_id).status_code == 404


def test_delete_of_a_human_id_is_404_and_never_reaches_mana_auth(client, devauth, admin_token, db):
    human = register_human(devauth, f"bob-{uuid.uuid4().hex[:8]}@example.com")
    response = client.delete(f"{BASE}/{human}", headers=bearer(admin_token))
    assert response.status_code == 404
    assert stored_user(devauth, human).status_code == 200


def test_a_failed_mana_auth_delete_keeps_the_persona_deletable(client, db, devauth_clear_faults, admin_token):
    user_id = create_persona(client, admin_token)
    add_fault(devauth_clear_faults, "/api/v1/admin/users/*", method="DELETE", status=503)
    failed = client.delete(f"{BASE}/{user_id}", headers=bearer(admin_token))
    assert failed.status_code == 502
    assert failed.get_json()["step"] == "delete"
    assert count_rows(db, "personas") == 1
    assert stored_user(devauth_clear_faults, user_id).status_code == 200
    assert client.delete(f"{BASE}/{user_id}", headers=bearer(admin_token)).status_code == 200
    assert count_rows(db, "personas") == 0
    assert stored_user(devauth_clear_faults, user_id).status_code == 404


def test_delete_completes_when_mana_auth_already_forgot_the_user(client, db, devauth, admin_token):
    user_id = create_persona(client, admin_token)
    requests.delete(
        f"{devauth.url}/api/v1/admin/users/{user_id}/data",
        headers={**bearer(admin_token), "X-Service-Key": SERVICE_KEY},
        timeout=10,
    ).raise_for_status()
    assert client.delete(f"{BASE}/{user_id}", headers=bearer(admin_token)).status_code == 200
    assert count_rows(db, "personas") == 0


# --- regressions found by fuzzing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [({"password": "p" * 129}, "password"), ({"email": "x" * 65 + "@mana.test"}, "email")],
    ids=["password-over-mana-auth-limit", "local-part-over-64"],
)
def test_input_mana_auth_would_refuse_is_a_400_here_not_a_502(client, admin_token, db, change, field):
    response = client.post(BASE, json={**upsert_body(new_email()), **change}, headers=bearer(admin_token))
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == field


def test_a_stalled_mana_auth_never_takes_every_worker_thread(live_api, devauth_clear_faults, db):
    """More stalled admin calls than the bulkhead lets through: the excess waits its turn
    until its request's deadline (MANA_AUTH_DEADLINE, 10 s) and is then shed with 503, and
    runners' calls are still answered while the stall lasts."""
    add_persona(db, "runner-side")
    token = mint_token(devauth_clear_faults)
    add_fault(devauth_clear_faults, "/api/v1/admin/users", method="GET", delayMs=7000, times=100)

    def upsert(_: int) -> int:
        return requests.post(
            f"{live_api.url}{BASE}", json=upsert_body(new_email()), headers=bearer(token), timeout=30
        ).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=24) as pool:
        stalled = [pool.submit(upsert, i) for i in range(24)]  # the live server has 2 x 8 threads
        time.sleep(1.0)
        due = requests.get(
            f"{live_api.url}/api/v1/personas/internal/due", headers={"X-Service-Key": SERVICE_KEY}, timeout=3
        )
        assert due.status_code == 200
        statuses = [f.result() for f in stalled]
    lasted = time.monotonic() - started
    # Two calls at a time per worker process, each timed out after 5 s (504), and the rest
    # shed at their deadline (10 s from their own start). Requests that reach the server
    # late (a loaded machine) have deadlines that end late, so the rounds of 504s are
    # bounded by how long the whole burst lasted: two in 10 s, more only if it ran longer.
    rounds = int(lasted // 5)
    assert statuses.count(504) <= 2 * 2 * rounds
    assert statuses.count(503) >= 24 - 2 * 2 * rounds
    assert set(statuses) <= {503, 504}


def test_detail_lists_each_shared_space_with_both_partners_newest_ticks_there(client, db, admin_token):
    add_persona(db, "pa", email="pa@mana.test")
    add_persona(db, "pb", email="pb@mana.test")
    now = datetime.now(UTC)
    for i in range(12):
        add_tick(db, "pa", f"pa-fam-{i}", started_at=now - timedelta(hours=i), space_id="fam")
    add_tick(db, "pb", "pb-fam-0", started_at=now - timedelta(minutes=30), space_id="fam")
    add_action(db, "pb", now, tool="notes.create", tick_id="pb-fam-0")
    add_action(db, "pb", now, tool="todo.create", error="boom", tick_id="pb-fam-0")
    add_tick(db, "pa", "pa-home", started_at=now, space_id="pa-home")  # personal: not listed
    add_tick(db, "pb", "pb-elsewhere", started_at=now, space_id="pb-home")  # not in fam
    response = client.get(f"{BASE}/pa", headers=bearer(admin_token))
    assert response.status_code == 200
    (space,) = response.get_json()["spaces"]
    assert space["spaceId"] == "fam"
    mine, partner = space["partners"]
    assert (mine["userId"], mine["email"], partner["userId"], partner["email"]) == (
        "pa",
        "pa@mana.test",
        "pb",
        "pb@mana.test",
    )
    assert [t["tickId"] for t in mine["recentTicks"]] == [f"pa-fam-{i}" for i in range(10)]
    (done,) = partner["recentTicks"]
    assert (done["tickId"], done["toolCalls"], done["toolErrors"]) == ("pb-fam-0", 2, 1)
    assert sorted(done["tools"]) == ["notes.create", "todo.create"]
    # The partner's own view shows the same space, with itself first.
    other = client.get(f"{BASE}/pb", headers=bearer(admin_token)).get_json()["spaces"]
    assert [[p["userId"] for p in s["partners"]] for s in other] == [["pb", "pa"]]


def test_detail_of_a_persona_that_never_shared_a_space_has_no_spaces(client, db, admin_token):
    add_persona(db, "solo")
    add_tick(db, "solo", "t1", space_id="solo-home")
    assert client.get(f"{BASE}/solo", headers=bearer(admin_token)).get_json()["spaces"] == []


@pytest.mark.parametrize(
    "mix",
    [{"todo": 1e308}, {"todo": 1_000_000.5}, {"todo": -1}, {"todo": 0, "notes": 0.0}, {}],
    ids=["1e308", "over-a-million", "negative", "all-zero", "empty"],
)
def test_insane_module_weights_are_refused_naming_module_mix(client, admin_token, db, mix):
    email = new_email()
    response = client.post(BASE, json=upsert_body(email, moduleMix=mix), headers=bearer(admin_token))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert [d["field"].split(".")[0] for d in response.get_json()["details"]] == ["moduleMix"]
    assert count_rows(db, "personas") == 0


def test_a_million_is_the_largest_weight(client, admin_token, db):
    body = upsert_body(new_email(), moduleMix={"todo": 1_000_000, "notes": 0})
    assert client.post(BASE, json=body, headers=bearer(admin_token)).status_code == 200
