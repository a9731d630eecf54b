"""The fleet budget: claims stop handing out personas once today's recorded spend reaches
FLEET_DAILY_BUDGET_USD, and say where the budget stands."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from config import Config, ConfigError
from tests.conftest import SERVICE_KEY, running_app
from tests.service.factories import add_persona, lease_of
from tests.support.processes import running_web

BASE = "/api/v1/personas/internal"
LIMIT = 1.0


@pytest.fixture(scope="module")
def budget_app(config):
    with running_app(dataclasses.replace(config, fleet_daily_budget_usd=LIMIT)) as application:
        yield application


@pytest.fixture
def budget_client(budget_app, db):
    return budget_app.test_client()


def spend(db, persona: str, tick: str, cost: float, started: datetime | None = None) -> None:
    db.execute(
        "INSERT INTO personas.persona_ticks (persona_id, tick_id, runner_id, state, started_at, finished_at,"
        " cost_usd) VALUES (%s, %s, 'r', 'ok', coalesce(%s, now()), coalesce(%s, now()), %s)",
        (persona, tick, started, started, cost),
    )


def claim(client, runner: str = "runner-a", **options) -> dict:
    response = client.post(
        f"{BASE}/claims", json={"runnerId": runner, **options}, headers={"X-Service-Key": SERVICE_KEY}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def next_utc_midnight() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


def test_under_the_budget_claims_hand_out_personas_and_say_where_it_stands(budget_client, db):
    add_persona(db, "spender")
    add_persona(db, "p1")
    spend(db, "spender", "t1", 0.05)
    spend(db, "spender", "t2", 0.1)
    spend(db, "spender", "yesterday", 0.15, started=datetime.now(UTC) - timedelta(days=1, hours=1))
    body = claim(budget_client)
    assert {p["userId"] for p in body["personas"]} == {"spender", "p1"}
    budget = body["budget"]
    assert budget["limitUsd"] == LIMIT
    assert budget["spentUsd"] == pytest.approx(0.15)
    # Each persona handed out holds the mean cost of the finished ticks (0.1) in reserve.
    assert budget["reservedUsd"] == pytest.approx(0.2)
    assert datetime.fromisoformat(budget["resetsAt"]) == next_utc_midnight()


def test_at_the_budget_no_claimer_gets_a_persona(budget_client, db):
    add_persona(db, "spender")
    for i in range(5):
        add_persona(db, f"p{i}")
    spend(db, "spender", "t1", LIMIT)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: claim(budget_client, f"runner-{n}"), range(8)))
    assert all(a["personas"] == [] for a in answers)
    assert all(a["budget"]["spentUsd"] == pytest.approx(LIMIT) for a in answers)
    assert all(lease_of(db, f"p{i}") == (None, None) for i in range(5))


def test_past_the_budget_only_a_cost_free_claim_gets_personas_and_it_reserves_nothing(budget_client, db):
    add_persona(db, "spender")
    for i in range(3):
        add_persona(db, f"p{i}")
    spend(db, "spender", "t1", LIMIT)
    assert claim(budget_client, "paid")["personas"] == []
    free = claim(budget_client, "free", costFree=True)
    assert {p["userId"] for p in free["personas"]} == {"spender", "p0", "p1", "p2"}
    assert free["budget"]["spentUsd"] == pytest.approx(LIMIT) and free["budget"]["reservedUsd"] == 0
    reserved = db.execute("SELECT count(*) FROM personas.personas WHERE reserved_usd IS NOT NULL").fetchone()
    assert reserved == (0,) and lease_of(db, "p0")[0] == "free"
    # Its ticks report their own driver, model and cost.
    report = {"runnerId": "free", "state": "ok", "driver": "openai", "model": "qwen3:8b", "costUsd": 0}
    tick = budget_client.put(f"{BASE}/p0/ticks/t-free", json=report, headers={"X-Service-Key": SERVICE_KEY})
    assert tick.status_code == 200, tick.get_data(as_text=True)
    assert (tick.get_json()["tick"]["driver"], tick.get_json()["tick"]["model"]) == ("openai", "qwen3:8b")


def test_cost_free_leases_leave_the_budgets_room_to_paid_claims(budget_client, db):
    """Before any tick, a paid claim reserves FLEET_TICK_COST_ESTIMATE_USD (0.1) a persona:
    10 fill $1, whatever cost-free claims hold."""
    for i in range(15):
        add_persona(db, f"fleet-{i:02}")
    assert len(claim(budget_client, "free", costFree=True, limit=5)["personas"]) == 5
    paid = claim(budget_client, "paid", costFree=False, limit=500)
    assert len(paid["personas"]) == 10 and paid["budget"]["reservedUsd"] == pytest.approx(1.0)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_cost_free_must_be_a_boolean(budget_client, db, value):
    response = budget_client.post(
        f"{BASE}/claims", json={"runnerId": "r", "costFree": value}, headers={"X-Service-Key": SERVICE_KEY}
    )
    assert response.status_code == 400 and "costFree" in response.get_data(as_text=True)


def test_without_a_budget_claims_carry_none(client, db):
    add_persona(db, "spender")
    spend(db, "spender", "t1", 1000.0)
    body = claim(client)
    assert "budget" not in body
    assert [p["userId"] for p in body["personas"]] == ["spender"]


def test_due_is_not_budgeted(budget_client, db):
    add_persona(db, "spender")
    spend(db, "spender", "t1", 2 * LIMIT)
    due = budget_client.get(f"{BASE}/due", headers={"X-Service-Key": SERVICE_KEY}).get_json()
    assert [p["userId"] for p in due["personas"]] == ["spender"]
    assert "budget" not in due


@pytest.mark.parametrize("raw", ["-1", "nan", "inf", "ten", "1e999"])
def test_a_budget_must_be_a_non_negative_finite_number(raw):
    with pytest.raises(ConfigError, match="FLEET_DAILY_BUDGET_USD"):
        Config.from_env({"DATABASE_URL": "postgresql://u@h/db", "FLEET_DAILY_BUDGET_USD": raw})


@pytest.mark.parametrize(("raw", "value"), [("", None), ("0", 0.0), ("12.5", 12.5)])
def test_an_unset_budget_is_none(raw, value):
    config = Config.from_env({"DATABASE_URL": "postgresql://u@h/db", "FLEET_DAILY_BUDGET_USD": raw})
    assert config.fleet_daily_budget_usd == value


# --- a fleet of claimers at the limit, against the real server ---------------------------

TICK_COST = 0.1
CLAIMERS = 8


class Running:
    """How many ticks are running at once, at most, over the whole run."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


def drive_until_refused(base: str, runner: str, running: Running, start: threading.Barrier) -> int:
    """A runner: claim one persona, run its tick (start, end with its cost, ratings), again
    until a claim hands out nothing. Returns the ticks it ran."""
    session = requests.Session()
    session.headers["X-Service-Key"] = SERVICE_KEY
    start.wait()
    ran = 0
    while True:
        answer = session.post(f"{base}/claims", json={"runnerId": runner, "limit": 1}, timeout=30).json()
        if not answer["personas"]:
            return ran
        pid = answer["personas"][0]["userId"]
        tick = f"{runner}-{ran}"
        with running:
            started = session.put(f"{base}/{pid}/ticks/{tick}", json={"runnerId": runner, "state": "running"})
            assert started.status_code == 200, started.text
            ended = session.put(
                f"{base}/{pid}/ticks/{tick}",
                json={"runnerId": runner, "state": "ok", "costUsd": TICK_COST},
                timeout=30,
            )
            assert ended.status_code == 200, ended.text
        rating = {"feedback": [{"tickId": tick, "module": "todo", "rating": 4}], "runnerId": runner}
        assert session.post(f"{base}/{pid}/feedback", json=rating, timeout=30).status_code == 200
        ran += 1


@pytest.fixture(scope="module")
def budget_api(service_env):
    """The service under gunicorn with the budget set, shared by this module's races."""
    with running_web("web-budget", {**service_env, "FLEET_DAILY_BUDGET_USD": str(LIMIT)}) as api:
        yield api


def test_eight_claimers_at_the_limit_overshoot_by_at_most_the_ticks_already_running(budget_api, db):
    """The proof: a tick's cost is recorded when it ends; a claim leases nothing once the
    recorded spend has reached the limit. So every tick started after the spend reached the
    limit would have been claimed by a claim that saw the spend below it, i.e. while the
    crossing tick and its peers were running. With each claimer driving one persona at a
    time, at most CLAIMERS ticks run at once, so the spend ends below
    LIMIT + CLAIMERS * TICK_COST, and (claims stopped) at or above LIMIT."""
    for i in range(60):
        add_persona(db, f"fleet-{i:02}", cadence="hourly")
    add_persona(db, "spender")
    spend(db, "spender", "earlier", LIMIT - 0.35)  # the fleet reaches the limit after a few ticks
    base = f"{budget_api.url}{BASE}"
    running = Running()
    start = threading.Barrier(CLAIMERS)
    with ThreadPoolExecutor(max_workers=CLAIMERS) as pool:
        ran = sum(
            pool.map(lambda n: drive_until_refused(base, f"runner-{n}", running, start), range(CLAIMERS))
        )
    final = requests.post(
        f"{base}/claims", json={"runnerId": "late"}, headers={"X-Service-Key": SERVICE_KEY}, timeout=30
    ).json()
    spent = db.execute("SELECT sum(cost_usd)::float8 FROM personas.persona_ticks").fetchone()[0]
    assert final["personas"] == []
    assert final["budget"]["spentUsd"] == pytest.approx(spent)
    assert running.most <= CLAIMERS
    assert spent >= LIMIT
    assert spent - LIMIT < CLAIMERS * TICK_COST, (spent, ran, running.most)
    assert ran < 60, "claims never stopped"


# --- reservations: the day ends at most one tick over, whatever the claimers ----------


def claim_over_http(base: str, runner: str, start: threading.Barrier) -> list[str]:
    start.wait()
    answer = requests.post(
        f"{base}/claims", json={"runnerId": runner}, headers={"X-Service-Key": SERVICE_KEY}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return [p["userId"] for p in answer.json()["personas"]]


def test_sixteen_claimers_just_under_the_budget_get_one_persona_between_them(budget_api, db):
    for i in range(20):
        add_persona(db, f"fleet-{i:02}")
    add_persona(db, "spender")
    spend(db, "spender", "earlier", LIMIT - 0.000001)  # a tick costs about the whole budget
    base = f"{budget_api.url}{BASE}"
    start = threading.Barrier(16)
    with ThreadPoolExecutor(max_workers=16) as pool:
        handed = [
            pid
            for got in pool.map(lambda n: claim_over_http(base, f"r-{n}", start), range(16))
            for pid in got
        ]
    assert len(handed) == 1, handed


def test_one_greedy_claim_just_under_the_budget_gets_what_the_budget_covers(budget_client, db):
    for i in range(20):
        add_persona(db, f"fleet-{i:02}")
    add_persona(db, "spender")
    spend(db, "spender", "earlier", LIMIT - 0.000001)
    body = claim(budget_client, limit=500)
    assert len(body["personas"]) == 1
    assert body["budget"]["reservedUsd"] == pytest.approx(LIMIT - 0.000001)


def test_before_any_tick_a_claim_reserves_the_estimate_until_the_tick_is_reported(budget_client, db):
    """FLEET_TICK_COST_ESTIMATE_USD (0.1 by default) per persona: 10 of them fill $1."""
    for i in range(15):
        add_persona(db, f"fleet-{i:02}")
    first = claim(budget_client, limit=500)
    assert len(first["personas"]) == 10
    assert first["budget"]["reservedUsd"] == pytest.approx(1.0)
    assert claim(budget_client, "runner-b", limit=500)["personas"] == []
    # A reported tick ends its reservation; its cost (here less than reserved) takes its place.
    pid = first["personas"][0]["userId"]
    report = {"runnerId": "runner-a", "state": "ok", "costUsd": 0.02}
    headers = {"X-Service-Key": SERVICE_KEY}
    assert budget_client.put(f"{BASE}/{pid}/ticks/t1", json=report, headers=headers).status_code == 200
    after = claim(budget_client, "runner-b", limit=500)
    # 9 x 0.1 still reserved and 0.02 spent leave 0.08: at the new mean (0.02), 4 ticks.
    assert len(after["personas"]) == 4
    assert after["budget"]["spentUsd"] == pytest.approx(0.02)
    assert after["budget"]["reservedUsd"] == pytest.approx(0.9 + 4 * 0.02)


def test_a_lapsed_lease_gives_its_reservation_back(budget_client, db):
    for i in range(12):
        add_persona(db, f"fleet-{i:02}")
    assert len(claim(budget_client, limit=500, leaseSeconds=5)["personas"]) == 10
    db.execute(
        "UPDATE personas.personas SET lease_until = now() - interval '1 second' WHERE lease_until IS NOT NULL"
    )
    again = claim(budget_client, "runner-b", limit=500)
    assert len(again["personas"]) == 10
    assert again["budget"]["reservedUsd"] == pytest.approx(1.0)


def test_deleting_a_persona_keeps_todays_spend(budget_client, db):
    add_persona(db, "spender")
    add_persona(db, "p1")
    spend(db, "spender", "t1", 0.4)
    db.execute("DELETE FROM personas.personas WHERE user_id = 'spender'")
    assert claim(budget_client)["budget"]["spentUsd"] == pytest.approx(0.4)
