"""Releases: the product version a tick ran against (PUT /internal/<id>/ticks/<tickId>
takes `product`), and GET /admin/insights/releases, which lists the versions and compares
the newest with the one before: modules by the regression rule (two-sided), tools by error
rate and p95 latency."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import SERVICE_KEY
from tests.devauth_fixtures import mint_token
from tests.service.factories import add_action, add_persona, add_rating, add_tick
from tests.support.auth import bearer

URL = "/api/v1/personas/admin/insights/releases"
TICKS = "/api/v1/personas/internal/p1/ticks"
PERSONAS = ("p1", "p2", "p3", "p4")
_TICK = itertools.count()


@pytest.fixture
def admin(client, devauth):
    headers = bearer(mint_token(devauth, role="admin"))
    return lambda **params: client.get(URL, query_string=params, headers=headers)


@pytest.fixture
def personas(db):
    for persona in PERSONAS:
        add_persona(db, persona)
    return PERSONAS


def version_tick(db, persona: str, version: str, hours_ago: float) -> str:
    started = datetime.now(UTC) - timedelta(hours=hours_ago)
    return add_tick(db, persona, f"rel-{next(_TICK)}", started_at=started, product_version=version)


def ticks_rating(db, version: str, module: str, ratings: list[int], hours_ago: float) -> None:
    for i, value in enumerate(ratings):
        persona = PERSONAS[i % len(PERSONAS)]
        tick = version_tick(db, persona, version, hours_ago)
        add_rating(db, persona, module, value, datetime.now(UTC) - timedelta(hours=hours_ago), tick_id=tick)


def ticks_calling(
    db, version: str, tool: str, errors: int, calls: int, latency_ms: int, hours_ago: float
) -> None:
    for i in range(calls):
        tick = version_tick(db, PERSONAS[i % len(PERSONAS)], version, hours_ago)
        add_action(
            db,
            PERSONAS[i % len(PERSONAS)],
            datetime.now(UTC) - timedelta(hours=hours_ago),
            tool=tool,
            error="boom" if i < errors else None,
            latency_ms=latency_ms,
            tick_id=tick,
        )


# --- the product on the tick --------------------------------------------------------------


def test_a_tick_report_stores_and_shows_the_product(client, db, personas):
    headers = {"X-Service-Key": SERVICE_KEY}
    body = {"runnerId": "r", "state": "ok", "product": {"name": "mana", "version": "2.4.0"}}
    response = client.put(f"{TICKS}/t-1", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["tick"]["product"] == {"name": "mana", "version": "2.4.0"}
    row = db.execute("SELECT product_name, product_version FROM personas.persona_ticks WHERE tick_id = 't-1'")
    assert row.fetchone() == ("mana", "2.4.0")


def test_a_tick_without_a_product_shows_null(client, db, personas):
    body = {"runnerId": "r", "state": "ok"}
    response = client.put(f"{TICKS}/t-2", json=body, headers={"X-Service-Key": SERVICE_KEY})
    assert response.get_json()["tick"]["product"] is None


@pytest.mark.parametrize(
    ("product", "field"),
    [
        ({"name": "mana", "version": "v" * 201}, "product.version"),
        ({"name": "", "version": "1"}, "product.name"),
        ({"version": "1"}, "product.name"),
        ("1.0", "product"),
    ],
)
def test_a_bad_product_is_a_400_naming_it_and_writes_nothing(client, db, personas, product, field):
    body = {"runnerId": "r", "state": "ok", "product": product}
    response = client.put(f"{TICKS}/t-3", json=body, headers={"X-Service-Key": SERVICE_KEY})
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == field
    assert db.execute("SELECT count(*) FROM personas.persona_ticks").fetchone()[0] == 0


# --- the releases route -------------------------------------------------------------------


def test_releases_need_an_admin(client, devauth):
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=bearer(mint_token(devauth, role="user"))).status_code == 403


def test_no_versions_seen_answers_empty(admin, db):
    assert admin().get_json() == {"releases": [], "compare": None}


def test_one_version_is_listed_with_nothing_to_compare(admin, db, personas):
    version_tick(db, "p1", "1.0", hours_ago=3)
    version_tick(db, "p2", "1.0", hours_ago=1)
    body = admin().get_json()
    assert [(r["version"], r["ticks"]) for r in body["releases"]] == [("1.0", 2)]
    assert body["compare"] is None


def test_the_newest_version_is_compared_with_the_one_before_naming_what_got_worse(admin, db, personas):
    ticks_rating(db, "1.0", "todo", [5, 4, 5, 5, 4] * 4, hours_ago=48)
    ticks_rating(db, "1.0", "notes", [4, 5, 4] * 5, hours_ago=48)
    ticks_calling(db, "1.0", "todo.create", errors=1, calls=20, latency_ms=100, hours_ago=48)
    ticks_calling(db, "1.0", "notes.list", errors=0, calls=12, latency_ms=100, hours_ago=48)
    ticks_rating(db, "1.1", "todo", [1, 2, 1, 2, 1, 2, 2, 1], hours_ago=2)
    ticks_rating(db, "1.1", "notes", [4, 5, 4, 5, 4, 5, 4, 5], hours_ago=2)
    ticks_calling(db, "1.1", "todo.create", errors=8, calls=20, latency_ms=100, hours_ago=2)
    ticks_calling(db, "1.1", "notes.list", errors=0, calls=12, latency_ms=110, hours_ago=2)
    response = admin()
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [r["version"] for r in body["releases"]] == ["1.1", "1.0"]
    compare = body["compare"]
    assert (compare["from"], compare["to"]) == ("1.0", "1.1")
    todo, notes = compare["modules"]
    assert (todo["module"], todo["verdict"], todo["fromCount"], todo["toCount"]) == ("todo", "worse", 20, 8)
    assert todo["effect"] == -1.0 and todo["pValue"] <= 0.05
    assert (notes["module"], notes["verdict"]) == ("notes", "same")
    create, listing = compare["tools"]
    assert create == {
        "tool": "todo.create",
        "fromCalls": 20,
        "toCalls": 20,
        "fromErrorRate": 0.05,
        "toErrorRate": 0.4,
        "fromP95Ms": 100,
        "toP95Ms": 100,
        "verdict": "worse",
    }
    assert (listing["tool"], listing["verdict"]) == ("notes.list", "same")


@pytest.mark.parametrize(
    ("before", "after", "verdict"),
    [
        ((2, 20, 100), (3, 20, 100), "same"),  # 5 points more errors
        ((2, 20, 100), (2, 20, 199), "same"),  # p95 up but not doubled
        ((2, 20, 100), (2, 20, 200), "worse"),  # doubled
        ((8, 20, 100), (2, 20, 100), "better"),  # 30 points fewer errors
        ((0, 9, 100), (9, 9, 100), "same"),  # fewer than 10 calls a side
    ],
)
def test_a_tools_verdict_follows_its_error_rate_and_p95(admin, db, personas, before, after, verdict):
    ticks_calling(db, "1.0", "todo.create", *before, hours_ago=48)
    ticks_calling(db, "1.1", "todo.create", *after, hours_ago=2)
    (tool,) = admin().get_json()["compare"]["tools"]
    assert tool["verdict"] == verdict


def test_an_error_rate_ten_points_up_is_worse(admin, db, personas):
    ticks_calling(db, "1.0", "todo.create", 2, 10, 100, hours_ago=48)
    ticks_calling(db, "1.1", "todo.create", 3, 10, 100, hours_ago=2)
    (tool,) = admin().get_json()["compare"]["tools"]
    assert (tool["fromErrorRate"], tool["toErrorRate"], tool["verdict"]) == (0.2, 0.3, "worse")


def test_a_module_with_few_ratings_on_the_new_version_is_insufficient(admin, db, personas):
    ticks_rating(db, "1.0", "todo", [5] * 20, hours_ago=48)
    ticks_rating(db, "1.1", "todo", [1] * 7, hours_ago=2)
    (todo,) = admin().get_json()["compare"]["modules"]
    assert (todo["verdict"], todo["pValue"]) == ("insufficient", None)


def test_from_and_to_choose_the_versions_compared(admin, db, personas):
    for version, hours in (("1.0", 30), ("1.1", 20), ("1.2", 10)):
        version_tick(db, "p1", version, hours_ago=hours)
    compare = admin(**{"from": "1.0", "to": "1.2"}).get_json()["compare"]
    assert (compare["from"], compare["to"]) == ("1.0", "1.2")
    assert admin(to="1.1").get_json()["compare"]["from"] == "1.0"


@pytest.mark.parametrize("field", ["from", "to"])
def test_an_unknown_version_is_a_400_naming_the_field(admin, db, personas, field):
    version_tick(db, "p1", "1.0", hours_ago=1)
    response = admin(**{field: "9.9"})
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == field
