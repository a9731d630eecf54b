"""Tick records, the story so far and budgeted claims: the API against psycopg doing the same.

Phases, each `--duration` seconds with `--clients` threads, on one throwaway database:
1. PUT /internal/<id>/ticks/<tickId> of a final tick (a fresh tick each time, the
   create-finished path), against psycopg running the very same statements (the named
   queries of sql/internal/ticks.sql, in one transaction each) on `--clients` connections;
2. GET /internal/<id>/history?ticks=5 over personas with `--history-days` of hourly ticks
   (5 tool calls and a rating each), against psycopg running sql/internal/history.sql;
3. POST /claims (limit 10) until empty over `--personas` due personas, with a fleet budget
   set (never reached; today already holds `--today-ticks` ticks to sum) and without one,
   alternated `--rounds` times (which side goes first alternating too), leases and
   reservations cleared and the database vacuumed before each. Target: the median of the
   rounds' time ratios on/off at most 1.10.

    .venv/bin/python bench/ticks.py
    .venv/bin/python bench/ticks.py --duration 10 --clients 8 --personas 20000
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.fleet import persona_id, vacuum_analyze
from bench.load import claim_until_empty, run_clients
from bench.stack import Stack, bench, bench_args, print_ratio, section, seed_fleet
from personas.queries import queries
from personas.ticks import report_params
from personas.validation import TickReport

INTERNAL = "/api/v1/personas/internal"
HISTORY_PERSONAS = 200


def tick_options(parser) -> None:
    parser.add_argument("--history-days", type=int, default=30, help="days of hourly ticks (default 30)")
    parser.add_argument("--today-ticks", type=int, default=10_000, help="ticks started today (default 10000)")
    parser.add_argument("--claims-only", action="store_true", help="only the claims phase (3)")


def for_duration(clients: int, duration: float, make_worker: Callable[[int], Callable[[int], None]]) -> float:
    """Run `clients` threads calling their worker with a counter until `duration` ends;
    requests per second over all of them."""
    done = [0] * clients
    go = threading.Barrier(clients + 1)

    def loop(index: int) -> None:
        work = make_worker(index)
        go.wait()
        deadline = time.monotonic() + duration
        for n in itertools.count():
            if time.monotonic() >= deadline:
                return
            work(n)
            done[index] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    go.wait()
    start = time.monotonic()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - start)


def api_session(stack: Stack) -> requests.Session:
    session = requests.Session()
    session.headers["X-Service-Key"] = stack.service_key
    return session


TICK_BODY = {
    "runnerId": "bench",
    "state": "ok",
    "driver": "scripted",
    "costUsd": 0.01,
    "usage": {"inputTokens": 1000, "outputTokens": 200},
}


def tick_params(pid: str, tick: str) -> dict:
    """The statements' parameters for TICK_BODY, made as the view makes them."""
    return {"persona_id": pid, "tick_id": tick, **report_params(TickReport.model_validate(TICK_BODY))}


def put_phase(stack: Stack, api_url: str, args: argparse.Namespace) -> tuple[float, float]:
    def api_worker(index: int) -> Callable[[int], None]:
        session = api_session(stack)

        def work(n: int) -> None:
            pid = persona_id((index * 7919 + n) % args.personas)
            response = session.put(
                f"{api_url}{INTERNAL}/{pid}/ticks/api-{index}-{n}", json=TICK_BODY, timeout=30
            )
            assert response.status_code == 200, response.text

        return work

    def direct_worker(index: int) -> Callable[[int], None]:
        conn = stack.connect()
        q = queries.internal

        def work(n: int) -> None:
            pid = persona_id((index * 7919 + n) % args.personas)
            params = tick_params(pid, f"pg-{index}-{n}")
            with conn.transaction():
                q.lock_persona(conn, persona_id=pid)
                q.tick_as_stored(conn, **params)
                q.finish_tick(conn, **params)
                q.mark_active(conn, persona_id=pid)
                q.tick_answer(conn, persona_id=pid, tick_id=params["tick_id"])

        return work

    api = for_duration(args.clients, args.duration, api_worker)
    direct = for_duration(args.clients, args.duration, direct_worker)
    return api, direct


def seed_history(stack: Stack, days: int) -> None:
    with stack.connect() as conn:
        for n in range(HISTORY_PERSONAS):
            pid = persona_id(n)
            conn.execute(
                "INSERT INTO personas.persona_ticks (persona_id, tick_id, runner_id, state, started_at,"
                " finished_at) SELECT %(p)s, 'h-' || h, 'r', 'ok', now() - h * interval '1 hour',"
                " now() - h * interval '1 hour' + interval '1 minute' FROM generate_series(1, %(n)s) h",
                {"p": pid, "n": days * 24},
            )
            conn.execute(
                "INSERT INTO personas.persona_actions"
                " (persona_id, id, tick_id, tool_name, result, call_index, created_at)"
                " SELECT %(p)s, 'h-' || h || '-' || i || '-todo.x', 'h-' || h, 'todo.x', 'ok', i,"
                " now() - h * interval '1 hour' FROM generate_series(1, %(n)s) h, generate_series(0, 4) i",
                {"p": pid, "n": days * 24},
            )
            conn.execute(
                "INSERT INTO personas.persona_feedback (persona_id, id, tick_id, module, rating, created_at)"
                " SELECT %(p)s, 'h-' || h || '-todo', 'h-' || h, 'todo', 4, now() - h * interval '1 hour'"
                " FROM generate_series(1, %(n)s) h",
                {"p": pid, "n": days * 24},
            )
            conn.commit()
        for table in ("personas.persona_ticks", "personas.persona_actions", "personas.persona_feedback"):
            vacuum_analyze(conn, table)


def history_phase(stack: Stack, api_url: str, args: argparse.Namespace) -> tuple[float, float]:
    def api_worker(index: int) -> Callable[[int], None]:
        session = api_session(stack)

        def work(n: int) -> None:
            pid = persona_id((index + n * args.clients) % HISTORY_PERSONAS)
            response = session.get(f"{api_url}{INTERNAL}/{pid}/history", params={"ticks": 5}, timeout=30)
            assert response.status_code == 200 and len(response.json()["ticks"]) == 5, response.text

        return work

    def direct_worker(index: int) -> Callable[[int], None]:
        conn = stack.connect(autocommit=True)

        def work(n: int) -> None:
            pid = persona_id((index + n * args.clients) % HISTORY_PERSONAS)
            row = queries.internal.persona_history(conn, persona_id=pid, ticks=5, tools=50, ratings=100)
            assert len(row["ticks"]) == 5

        return work

    api = for_duration(args.clients, args.duration, api_worker)
    direct = for_duration(args.clients, args.duration, direct_worker)
    return api, direct


def claims_round(stack: Stack, api_url: str, args: argparse.Namespace) -> float:
    """Personas per second claimed until none is left. Leases and their reservations are
    cleared first (this benchmark reports no tick, so a round ends with every persona
    reserved), then the database vacuumed and analysed: each round starts from the same
    tables, whichever side ran before it."""
    with stack.connect(autocommit=True) as conn:
        conn.execute(
            "UPDATE personas.personas SET lease_runner = NULL, lease_until = NULL, reserved_usd = NULL,"
            " reserved_until = NULL, reserved_by = NULL"
        )
        conn.execute("VACUUM ANALYZE")
    result = run_clients(
        claim_until_empty,
        args.clients,
        lambda: None,
        urls=[api_url],
        service_key=stack.service_key,
        limit=10,
        lease_seconds=600,
        duration=120,
    )
    assert result.errors == 0 and len(set(result.ids)) == len(result.ids)
    return len(result.ids) / result.elapsed


def print_api_against_psycopg(api: float, direct: float) -> None:
    print(f"api {api:8.1f} req/s   psycopg {direct:8.1f} req/s   ratio {api / direct:.2f}")


def main() -> int:
    args = bench_args(__doc__, tick_options, duration=8, clients=8, personas=10_000, rounds=3)
    with bench("Ticks, history and budgeted claims: API against psycopg", args) as stack:
        seed_fleet(stack, args.personas, 1.0)
        with stack.connect() as conn:
            conn.execute(
                "INSERT INTO personas.persona_ticks (persona_id, tick_id, runner_id, state, started_at,"
                " finished_at, cost_usd) SELECT %s, 'today-' || n, 'r', 'ok',"
                " date_trunc('day', now(), 'UTC') + (n %% 1000) * interval '1 second', now(), 0.001"
                " FROM generate_series(1, %s) n",
                (persona_id(args.personas - 1), args.today_ticks),
            )
            conn.commit()
        if not args.claims_only:
            seed_history(stack, args.history_days)
        with stack.connect() as conn:
            vacuum_analyze(conn, "personas.persona_ticks")
        plain = stack.start_api(args, name="web")
        budgeted = stack.start_api(args, name="web-budget", extra_env={"FLEET_DAILY_BUDGET_USD": "1e9"})

        if not args.claims_only:
            section(f"PUT a final tick, {args.clients} clients, {args.duration:g} s each")
            print_api_against_psycopg(*put_phase(stack, plain.url, args))

            section(f"GET history?ticks=5, {args.history_days} days of hourly ticks, {args.clients} clients")
            print_api_against_psycopg(*history_phase(stack, plain.url, args))

        section(f"POST /claims until empty, {args.personas} due, {args.today_ticks} ticks today")
        print_claims_rounds(
            [claims_pair(stack, plain.url, budgeted.url, args, n) for n in range(args.rounds)]
        )
    return 0


def claims_pair(
    stack: Stack, off_url: str, on_url: str, args: argparse.Namespace, n: int
) -> tuple[float, float]:
    """One round of each side, in turn, the side that goes first alternating by round:
    personas per second with the budget off and on."""
    if n % 2:
        on = claims_round(stack, on_url, args)
        return claims_round(stack, off_url, args), on
    return claims_round(stack, off_url, args), claims_round(stack, on_url, args)


def print_claims_rounds(rounds: list[tuple[float, float]]) -> None:
    """Each round's figures and time ratio on/off, then the median ratio and its range."""
    ratios = [off / on for off, on in rounds]
    for n, ((off, on), ratio) in enumerate(zip(rounds, ratios, strict=True), 1):
        print(f"round {n}: budget off {off:8.1f} personas/s   on {on:8.1f}   time on/off {ratio:.2f}")
    print(
        f"time on/off over {len(ratios)} rounds: median {statistics.median(ratios):.2f},"
        f" range {min(ratios):.2f}-{max(ratios):.2f}"
    )
    print_ratio("time on/off", statistics.median(ratios), 1.10)
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    sys.exit(main())
