"""The fleet budget: claims stop handing out personas once today's recorded spend reaches
FLEET_DAILY_BUDGET_USD, and say where the budget stands."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
import requests

from config import Config, ConfigError
from personas.migrate import apply
from tests.conftest import SERVICE_KEY, running_app
from tests.service.factories import add_persona, add_tick, lease_of
from tests.service.migrating import migrated_before, roll_back_from, roll_back_only
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


@pytest.mark.parametrize("raw", ["0", "-0.1"])
def test_the_tick_cost_estimate_must_be_above_zero(raw):
    with pytest.raises(ConfigError, match="FLEET_TICK_COST_ESTIMATE_USD"):
        Config.from_env({"DATABASE_URL": "postgresql://u@h/db", "FLEET_TICK_COST_ESTIMATE_USD": raw})


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


def drive_until_refused(
    base: str, runner: str, running: Running, start: threading.Barrier, limit: int = 1
) -> int:
    """A runner: claim up to `limit` personas, run each one's tick (start, end with its
    cost, ratings), again until a claim hands out nothing. Returns the ticks it ran."""
    session = requests.Session()
    session.headers["X-Service-Key"] = SERVICE_KEY
    start.wait()
    ran = 0
    while True:
        answer = session.post(f"{base}/claims", json={"runnerId": runner, "limit": limit}, timeout=30).json()
        if not answer["personas"]:
            return ran
        for persona in answer["personas"]:
            run_tick(session, base, runner, persona["userId"], f"{runner}-{ran}", running)
            ran += 1


def run_tick(
    session: requests.Session, base: str, runner: str, pid: str, tick: str, running: Running
) -> None:
    with running:
        started = session.put(
            f"{base}/{pid}/ticks/{tick}", json={"runnerId": runner, "state": "running"}, timeout=30
        )
        assert started.status_code == 200, started.text
        ended = session.put(
            f"{base}/{pid}/ticks/{tick}",
            json={"runnerId": runner, "state": "ok", "costUsd": TICK_COST},
            timeout=30,
        )
        assert ended.status_code == 200, ended.text
    rating = {"feedback": [{"tickId": tick, "module": "todo", "rating": 4}], "runnerId": runner}
    assert session.post(f"{base}/{pid}/feedback", json=rating, timeout=30).status_code == 200


@pytest.fixture(scope="module")
def budget_api(service_env):
    """The service under gunicorn with the budget set, shared by this module's races."""
    with running_web("web-budget", {**service_env, "FLEET_DAILY_BUDGET_USD": str(LIMIT)}) as api:
        yield api


def test_eight_claimers_at_the_limit_overshoot_by_at_most_one_tick(budget_api, db):
    """Each claim reserves the expected cost of what it hands out (here at least what a
    tick costs) and hands out no more than the room left covers, so however the claims
    interleave the day ends at most one tick's cost over, and (claims stopped) at or above
    the limit."""
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
    assert spent - LIMIT <= TICK_COST + 1e-9, (spent, ran, running.most)
    assert ran < 60, "claims never stopped"


# --- reservations: the day ends at most one tick over, whatever the claimers ----------


def claim_over_http(base: str, runner: str, start: threading.Barrier) -> list[str]:
    start.wait()
    answer = requests.post(
        f"{base}/claims", json={"runnerId": runner}, headers={"X-Service-Key": SERVICE_KEY}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return [p["userId"] for p in answer.json()["personas"]]


def test_sixteen_greedy_claimers_reporting_their_ticks_end_at_most_one_tick_over(budget_api, db):
    """Reservations cleared and replaced by reports while others claim: the day still ends
    at most one tick's cost over the budget."""
    for i in range(60):
        add_persona(db, f"fleet-{i:02}", cadence="hourly")
    add_persona(db, "spender")
    spend(db, "spender", "earlier", LIMIT - 0.35)
    base = f"{budget_api.url}{BASE}"
    start = threading.Barrier(16)
    with ThreadPoolExecutor(max_workers=16) as pool:
        ran = sum(
            pool.map(lambda n: drive_until_refused(base, f"r-{n}", Running(), start, limit=500), range(16))
        )
    spent = db.execute("SELECT sum(cost_usd)::float8 FROM personas.persona_ticks").fetchone()[0]
    assert LIMIT <= spent <= LIMIT + TICK_COST + 1e-9, (spent, ran)
    left = db.execute("SELECT count(*) FROM personas.personas WHERE reserved_usd IS NOT NULL").fetchone()[0]
    assert left == 0


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


def test_free_ticks_do_not_lift_the_budget(budget_client, db):
    """Ticks that cost $0 (failed at login, the scripted driver) say nothing about the next
    one: with only those finished, a claim reserves the estimate (0.1), so $1 covers 10."""
    add_persona(db, "spender")
    for i in range(50):
        spend(db, "spender", f"free-{i:02}", 0.0)
    for i in range(20):
        add_persona(db, f"fleet-{i:02}")
    body = claim(budget_client, limit=500)
    assert len(body["personas"]) == 10
    assert body["budget"]["reservedUsd"] == pytest.approx(1.0)


def report(client, pid: str, tick: str, runner: str, **fields) -> None:
    body = {"runnerId": runner, "state": "ok", **fields}
    answer = client.put(f"{BASE}/{pid}/ticks/{tick}", json=body, headers={"X-Service-Key": SERVICE_KEY})
    assert answer.status_code == 200, answer.get_json()


def test_a_runner_that_lost_its_lease_leaves_the_new_holders_reservation(budget_client, db):
    add_persona(db, "p1")
    assert [p["userId"] for p in claim(budget_client, "runner-a")["personas"]] == ["p1"]
    db.execute("UPDATE personas.personas SET lease_until = now() - interval '1 second'")
    taken = claim(budget_client, "runner-b")
    assert [p["userId"] for p in taken["personas"]] == ["p1"]
    # The loser learns it lost the lease and reports its tick failed at step `lease`.
    report(budget_client, "p1", "tick-a", "runner-a", state="failed", step="lease", error="lost")
    assert claim(budget_client, "runner-c")["budget"]["reservedUsd"] == pytest.approx(0.1)
    report(budget_client, "p1", "tick-b", "runner-b", costUsd=0.1)
    assert claim(budget_client, "runner-c")["budget"]["reservedUsd"] == pytest.approx(0.0)


def test_a_claim_keeps_the_reservation_of_a_tick_not_reported_yet(budget_client, db):
    """Ratings end the lease before the final report: a claim in between adds its
    reservation to the unreported tick's instead of overwriting it."""
    add_persona(db, "p1")
    claim(budget_client, "runner-a")
    rating = {"feedback": [{"tickId": "tick-a", "module": "todo", "rating": 4}], "runnerId": "runner-a"}
    headers = {"X-Service-Key": SERVICE_KEY}
    assert budget_client.post(f"{BASE}/p1/feedback", json=rating, headers=headers).status_code == 200
    db.execute("UPDATE personas.personas SET run_requested_at = now()")
    assert claim(budget_client, "runner-b")["budget"]["reservedUsd"] == pytest.approx(0.2)
    assert claim(budget_client, "runner-c")["budget"]["reservedUsd"] == pytest.approx(0.2)


def test_the_one_rollup_migration_carries_the_spend_of_deleted_personas_both_ways(server_url):
    """0020 moves today's spend out of fleet_spend, deleted personas' ticks included, and
    its rollback moves it back."""
    url = migrated_before(server_url, "personas_one_cost_rollup", "0020_one_daily_cost_rollup")
    spent_today = "SELECT personas.fleet_spent_today()::float8"
    with psycopg.connect(url, autocommit=True) as conn:
        for pid, cost in (("kept", 0.25), ("gone", 0.5)):
            add_persona(conn, pid)
            add_tick(conn, pid, "t1", cost_usd=cost)
        conn.execute("DELETE FROM personas.personas WHERE user_id = 'gone'")
        apply(url)
        assert conn.execute(spent_today).fetchone()[0] == pytest.approx(0.75)
        # Back to before 0020: the later migrations first (0024 keys the rollup by driver too).
        rolled_back = roll_back_from(url, "0020_one_daily_cost_rollup")
        assert conn.execute("SELECT sum(cost_usd)::float8 FROM personas.fleet_spend").fetchone()[0] == 0.75
        assert apply(url) == rolled_back
        add_tick(conn, "kept", "t2", cost_usd=0.125)
        assert conn.execute(spent_today).fetchone()[0] == pytest.approx(0.875)


def test_the_runs_by_driver_migration_splits_each_day_and_keeps_deleted_personas_spend(server_url):
    """0024 keys the daily runs by driver: the ticks still there by theirs, what deleted
    personas spent under ''; its rollback sums them back into one row a day."""
    url = migrated_before(server_url, "personas_runs_by_driver", "0024_runs_by_driver")
    spent_today = "SELECT personas.fleet_spent_today()::float8"
    rows = (
        "SELECT driver, ticks, cost_usd::float8, spent_usd::float8 FROM personas.tick_runs_daily ORDER BY 1"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        for pid, cost, driver in (("kept", 0.25, "claude"), ("free", 0, "openai"), ("gone", 0.5, "claude")):
            add_persona(conn, pid)
            add_tick(conn, pid, "t1", cost_usd=cost, driver=driver)
        conn.execute("DELETE FROM personas.personas WHERE user_id = 'gone'")
        apply(url)
        assert conn.execute(rows).fetchall() == [
            ("", 0, 0, 0.5),
            ("claude", 1, 0.25, 0.25),
            ("openai", 1, 0, 0),
        ]
        assert conn.execute(spent_today).fetchone()[0] == pytest.approx(0.75)
        add_tick(conn, "free", "t2", cost_usd=0, driver="openai")
        assert conn.execute(rows).fetchall()[-1] == ("openai", 2, 0, 0)
        roll_back_only(url, "0024_runs_by_driver")
        assert conn.execute("SELECT ticks, spent_usd::float8 FROM personas.tick_runs_daily").fetchall() == [
            (3, 0.75)
        ]
        assert apply(url) == ["0024_runs_by_driver"]
        assert conn.execute(spent_today).fetchone()[0] == pytest.approx(0.75)


# --- the budget's turn: one statement, never a wait on the service ---------------------


def test_a_hold_counts_against_the_room_until_it_lapses(budget_client, db):
    """The room a claim holds (its turn taken, its claim not committed yet) is not free to
    others; the hold of a claim that died in between stops counting when it lapses."""
    for i in range(3):
        add_persona(db, f"fleet-{i:02}")
    db.execute(
        "INSERT INTO personas.budget_holds (personas, tick_cost, held_until)"
        " VALUES (10, 0.1, now() + interval '1 minute')"
    )
    assert claim(budget_client)["personas"] == []
    db.execute("UPDATE personas.budget_holds SET held_until = now() - interval '1 second'")
    taken = claim(budget_client, limit=2)
    assert len(taken["personas"]) == 2
    assert taken["budget"]["reservedUsd"] == pytest.approx(0.2)
    assert db.execute("SELECT count(*) FROM personas.budget_holds").fetchone()[0] == 0


IDLE_IN_TRANSACTION = """
SELECT pid, state_change FROM pg_stat_activity
 WHERE datname = current_database() AND state = 'idle in transaction'
"""
TURN_HOLDERS = """
SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database
 WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()
"""


def turns_held_while_idle(db) -> int:
    """Backends holding a turn while idle in a transaction. The lock table and the activity
    view are separate snapshots, so a backend counts only if it was idle in the same
    transaction state (unchanged since) both before and after the locks were read."""
    before = set(db.execute(IDLE_IN_TRANSACTION).fetchall())
    holders = {pid for (pid,) in db.execute(TURN_HOLDERS).fetchall()}
    after = set(db.execute(IDLE_IN_TRANSACTION).fetchall())
    return len({pid for pid, _ in before & after} & holders)


def test_budgeted_claims_never_hold_their_turn_while_waiting_on_the_service(budget_api, db):
    """Claims take turns only for the statement that holds their room: no backend keeps the
    turn while it waits for the service's next statement (a worker waiting for a CPU would
    make every other budgeted claim wait too)."""
    for i in range(120):
        add_persona(db, f"fleet-{i:03}")
    base = f"{budget_api.url}{BASE}"
    start = threading.Barrier(CLAIMERS + 1)
    with ThreadPoolExecutor(max_workers=CLAIMERS) as pool:
        claimers = [pool.submit(claim_until_empty, base, f"r-{n}", start) for n in range(CLAIMERS)]
        start.wait()
        polls = held_while_idle = 0
        while not all(c.done() for c in claimers):
            held_while_idle += turns_held_while_idle(db)
            polls += 1
        handed = [pid for c in claimers for pid in c.result()]
    assert len(handed) == len(set(handed)) == 120
    assert polls > 20
    assert held_while_idle == 0


def claim_until_empty(base: str, runner: str, start: threading.Barrier) -> list[str]:
    """One persona a claim until none is left, each reported at once as a free tick (its
    reservation ends, its room comes back, the persona is no longer due)."""
    session = requests.Session()
    session.headers["X-Service-Key"] = SERVICE_KEY
    start.wait()
    handed: list[str] = []
    while True:
        answer = session.post(f"{base}/claims", json={"runnerId": runner, "limit": 1}, timeout=30).json()
        if not answer["personas"]:
            return handed
        pid = answer["personas"][0]["userId"]
        handed.append(pid)
        report = {"runnerId": runner, "state": "ok", "costUsd": 0}
        reported = session.put(f"{base}/{pid}/ticks/{runner}-{len(handed)}", json=report, timeout=30)
        assert reported.status_code == 200, reported.text


# --- the reserved total: kept by the writes of personas, read in 16 rows -----------------

RESERVED_TOTAL = "SELECT coalesce(sum(reserved_usd), 0) FROM personas.budget_reserved"
RESERVED_ON_PERSONAS = "SELECT coalesce(sum(reserved_usd), 0) FROM personas.personas"
LIVE_ON_PERSONAS = f"{RESERVED_ON_PERSONAS} WHERE reserved_until > now()"
CHURNERS = 8


@pytest.fixture(scope="module")
def roomy_budget_api(service_env):
    """A budget no claim reaches: every paid claim reserves, whatever the others spend."""
    with running_web("web-roomy-budget", {**service_env, "FLEET_DAILY_BUDGET_USD": "1000"}) as api:
        yield api


def churn(base: str, n: int, start: threading.Barrier) -> int:
    """A runner doing all that changes a reservation: claims (every fifth cost-free), and
    for what it leases, in turn, a heartbeat then a final report (at a cost unlike the
    others', so the expected cost has many digits), a release, ratings (which end the lease
    and leave the reservation), or nothing (the lease lives on). Returns the personas leased."""
    session = requests.Session()
    session.headers["X-Service-Key"] = SERVICE_KEY
    runner = f"churn-{n}"
    leased = 0
    start.wait()
    for round_ in range(12):
        body = {"runnerId": runner, "limit": 4, "costFree": round_ % 5 == 4}
        answer = session.post(f"{base}/claims", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        for i, persona in enumerate(answer.json()["personas"]):
            pid, tick = persona["userId"], f"{runner}-{leased}"
            leased += 1
            beat = session.post(f"{base}/claims/{pid}/heartbeat", json={"runnerId": runner}, timeout=30)
            # A persona deleted meanwhile (404), or its lease lapsed by the test (409).
            assert beat.status_code in (200, 404, 409), beat.text
            match (n + round_ + i) % 4:
                case 0:
                    report = {"runnerId": runner, "state": "ok", "costUsd": 0.01 + leased / 997}
                    answer = session.put(f"{base}/{pid}/ticks/{tick}", json=report, timeout=30)
                case 1:
                    answer = session.delete(f"{base}/claims/{pid}", params={"runnerId": runner}, timeout=30)
                case 2:
                    rating = {
                        "feedback": [{"tickId": tick, "module": "todo", "rating": 4}],
                        "runnerId": runner,
                    }
                    answer = session.post(f"{base}/{pid}/feedback", json=rating, timeout=30)
                case _:
                    continue
            assert answer.status_code in (200, 204, 404, 409), answer.text
    return leased


def meddle(url: str, done: threading.Event, start: threading.Barrier) -> int:
    """An operator's writes in the middle of the claims, until they are done: a persona
    holding a reservation deleted, a live lease made to lapse with its reservation (the
    sweeps clear it), and the reservations of ended leases made to lapse (nothing clears
    those). Returns the reservations deleted."""
    one_reserved = (
        "SELECT user_id FROM personas.personas WHERE reserved_until > now() ORDER BY random() LIMIT 1"
    )
    deleted = 0
    with psycopg.connect(url, autocommit=True) as conn:
        start.wait()
        while not done.wait(0.02):
            deleted += conn.execute(
                f"DELETE FROM personas.personas WHERE user_id = ({one_reserved})"
            ).rowcount
            conn.execute(
                "UPDATE personas.personas SET lease_until = now() - interval '1 second',"
                f" reserved_until = now() - interval '1 second' WHERE user_id = ({one_reserved})"
                " AND lease_until IS NOT NULL AND reserved_until IS NOT NULL"
            )
            conn.execute(
                "UPDATE personas.personas SET reserved_until = now() - interval '1 second'"
                " WHERE lease_until IS NULL AND reserved_until > now()"
            )
    return deleted


def test_the_reserved_total_is_the_sum_over_personas_whatever_writes_race(roomy_budget_api, db, database_url):
    """Claims, heartbeats, reports, releases, ratings, deletes and lapses from many
    connections at once: in every snapshot the 16 rows hold the sum of the reservations on
    personas, and the budget reads the live ones, lapsed ones left on personas or not."""
    for i in range(300):
        add_persona(db, f"fleet-{i:03}")
    base = f"{roomy_budget_api.url}{BASE}"
    start = threading.Barrier(CHURNERS + 2)
    checked = f"SELECT ({RESERVED_TOTAL}) = ({RESERVED_ON_PERSONAS})"
    done = threading.Event()
    with ThreadPoolExecutor(max_workers=CHURNERS + 1) as pool:
        runners = [pool.submit(churn, base, n, start) for n in range(CHURNERS)]
        writes = pool.submit(meddle, database_url, done, start)
        start.wait()
        snapshots = []
        while not all(r.done() for r in runners):
            snapshots.append(db.execute(checked).fetchone()[0])
        done.set()
        leased = sum(r.result() for r in runners)
        deleted = writes.result()
    assert all(snapshots) and len(snapshots) > 20, snapshots.count(False)
    assert leased > 100 and deleted > 5
    # And once the claims are over (the budget reads past what lapsed and stays on personas).
    db.execute(
        "UPDATE personas.personas SET reserved_until = now() - interval '1 second'"
        " WHERE lease_until IS NULL AND reserved_until > now()"
    )
    assert (
        db.execute("SELECT count(*) FROM personas.personas WHERE reserved_until <= now()").fetchone()[0] > 0
    )
    total, on_personas, live = (
        db.execute(q).fetchone()[0] for q in (RESERVED_TOTAL, RESERVED_ON_PERSONAS, LIVE_ON_PERSONAS)
    )
    assert total == on_personas > 0
    assert db.execute("SELECT personas.fleet_reserved_usd()").fetchone()[0] == live


def test_the_reserved_total_migration_counts_the_reservations_recorded_and_rolls_back(server_url):
    """0025 starts the total from the reservations on personas, lapsed ones included (the
    budget takes those off as it reads); its rollback leaves the budget reading the personas."""
    url = migrated_before(server_url, "personas_budget_reserved", "0025_budget_reserved")
    with psycopg.connect(url, autocommit=True) as conn:
        for pid, usd, hours in (("live", "0.25", 1), ("lapsed", "0.5", -1), ("none", None, None)):
            add_persona(conn, pid)
            conn.execute(
                "UPDATE personas.personas SET reserved_usd = %s::numeric,"
                " reserved_until = now() + %s * interval '1 hour' WHERE user_id = %s",
                (usd, hours, pid),
            )
        apply(url)
        total, on_personas = (conn.execute(q).fetchone()[0] for q in (RESERVED_TOTAL, RESERVED_ON_PERSONAS))
        assert total == on_personas == Decimal("0.75")
        reserved = "SELECT personas.fleet_reserved_usd()"
        assert conn.execute(reserved).fetchone()[0] == Decimal("0.25")
        roll_back_only(url, "0025_budget_reserved")
        assert conn.execute("SELECT to_regclass('personas.budget_reserved')").fetchone()[0] is None
        assert conn.execute(reserved).fetchone()[0] == Decimal("0.25")
        assert apply(url) == ["0025_budget_reserved"]
        conn.execute("DELETE FROM personas.personas WHERE user_id = 'live'")
        assert conn.execute(RESERVED_TOTAL).fetchone()[0] == Decimal("0.5")
        assert conn.execute(reserved).fetchone()[0] == 0
