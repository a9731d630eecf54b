"""Admin list: GET /admin (every persona with its 7-day action count) as the actions grow.

Workload: `--personas` personas and `--actions` action rows spread over the last
`--days` days (ticks of 20 rows), seeded with INSERT ... SELECT generate_series through
plain INSERTs, so any trigger a migration puts on persona_actions sees every row. One
client times GET /api/v1/personas/admin with an admin token from the mana-auth stand-in
until the whole body has arrived. Floor baseline: psycopg fetching the persona rows alone
(user_id, email, archetype, tick_cadence, last_active_at, created_at; no counts). For
reference it also times the service's own list query through psycopg. Then the actions
are multiplied by `--factor` (more rows in the same days) and everything is timed again.
Targets: API <= 3 x floor, and API after <= 1.25 x API before.

    .venv/bin/python bench/admin_list.py
    .venv/bin/python bench/admin_list.py --actions 10000000 --runs 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
import psycopg
import requests

from bench.fleet import ACTIONS_PER_TICK, TOOLS, vacuum_analyze
from bench.meters import CpuMeter, interleaved_medians, spread
from bench.stack import ADMIN, Stack, bench, bench_args, mint_admin_token, print_ratio, section, seed_fleet
from personas.queries import queries
from personas.validation import PersonaListPage

# Row n belongs to tick n / 20 of persona (tick % personas); ticks are spread evenly over
# the window by the golden ratio, the rows of a tick two seconds apart. Keys are built
# as the service builds them: {tickId}-{i}-{toolName}.
SEED_ACTIONS = """
INSERT INTO personas.persona_actions
       (persona_id, id, tick_id, tool_name, input_hash, result, error_message, latency_ms, created_at)
SELECT md5('persona-' || (k.tick %% %(personas)s))::uuid::text,
       'seed-' || k.tick || '-' || k.i || '-' || tool.name,
       'seed-' || k.tick,
       tool.name,
       md5('in-' || n) || md5('put-' || n),
       CASE WHEN n %% 20 = 7 THEN 'error' ELSE 'ok' END,
       CASE WHEN n %% 20 = 7 THEN 'upstream answered 503 Service Unavailable; gave up' END,
       (n * 37) %% 2500,
       now() - %(window)s::interval * ((k.tick * 0.6180339887498949) %% 1) + k.i * interval '2 seconds'
         - interval '1 minute'
  FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
 CROSS JOIN LATERAL (SELECT n / %(per_tick)s AS tick, n %% %(per_tick)s AS i) AS k
 CROSS JOIN LATERAL (SELECT (%(tools)s::text[])[1 + (n * 7) %% %(tool_count)s] AS name) AS tool
"""
FLOOR = """
SELECT user_id, email, archetype, tick_cadence, last_active_at, created_at
  FROM personas.personas
 ORDER BY created_at DESC, user_id
"""
CHUNK = 250_000


def action_options(parser) -> None:
    parser.add_argument(
        "--actions", type=int, default=1_000_000, help="action rows at first (default 1000000)"
    )
    parser.add_argument("--factor", type=int, default=3, help="more actions in the second round (default 3)")
    parser.add_argument("--days", type=int, default=14, help="days the actions are spread over (default 14)")


def seed_actions(stack: Stack, args: argparse.Namespace, first: int, last: int) -> None:
    """Rows first..last-1, in chunks of plain INSERT ... SELECT, then VACUUM ANALYZE."""
    start = time.perf_counter()
    with stack.connect(autocommit=True) as conn:
        for lo in range(first, last, CHUNK):
            hi = min(last, lo + CHUNK) - 1
            conn.execute(
                SEED_ACTIONS,
                {
                    "personas": args.personas,
                    "first": lo,
                    "last": hi,
                    "per_tick": ACTIONS_PER_TICK,
                    "window": f"{args.days} days",
                    "tools": TOOLS,
                    "tool_count": len(TOOLS),
                },
            )
            done = hi + 1 - first
            print(
                f"  inserted {done:>10,} rows, {done / (time.perf_counter() - start):,.0f} rows/s", flush=True
            )
        inserted = time.perf_counter() - start
        vacuum_analyze(conn, "personas.persona_actions")
        size = conn.execute("SELECT pg_total_relation_size('personas.persona_actions') / 1e6").fetchone()[0]
    print(
        f"seeded          {last - first:,} action rows in {inserted:.1f} s, VACUUM ANALYZE "
        f"{time.perf_counter() - start - inserted:.1f} s; persona_actions now {size:,.0f} MB"
    )


def measure(stack: Stack, api_url: str, token: str, runs: int, meter: CpuMeter) -> dict[str, float]:
    """Median ms of the API, the floor and the service's own query, run in turn."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    conn = stack.connect(autocommit=True)

    def api_list() -> bytes:
        response = session.get(f"{api_url}{ADMIN}", timeout=120)
        response.raise_for_status()
        return response.content

    def floor() -> list[tuple]:
        return conn.execute(FLOOR).fetchall()

    def service_query() -> object:
        return queries.admin.list_personas(
            conn, now=None, after_at=None, after_id=None, limit=None, **PersonaListPage().search_params()
        )

    body = orjson.loads(api_list())["personas"]
    in_window = conn.execute(
        "SELECT count(*) FROM personas.persona_actions WHERE created_at > now() - interval '7 days'"
    ).fetchone()[0]
    print(
        f"check           {len(body)} personas; sum of actions7d {sum(p['actions7d'] for p in body):,} "
        f"(rows in the last 7 days: {in_window:,})"
    )
    meter.start()
    medians = interleaved_medians(runs, {"api": api_list, "floor": floor, "service query": service_query})
    meter.stop()
    conn.close()
    for name, (median, times) in medians.items():
        print(f"{name:<15} median {median:8.1f} ms  ({spread(times)})")
    print(meter.report())
    return {name: median for name, (median, _) in medians.items()}


def main() -> int:
    args = bench_args(__doc__, action_options, personas=10_000, runs=9)
    with bench("admin-list: GET /admin against the persona rows alone", args) as stack:
        seed_fleet(stack, args.personas, 0.5)
        seed_actions(stack, args, 0, args.actions)
        devauth = stack.start_devauth()
        api = stack.start_api(args, auth_url=devauth.url)
        token = mint_admin_token(devauth)
        meter = CpuMeter(stack, [api, devauth])

        section(f"{args.actions:,} actions over {args.days} days")
        before = measure(stack, api.url, token, args.runs, meter)

        total = args.actions * args.factor
        section(f"{total:,} actions over {args.days} days (x{args.factor})")
        seed_actions(stack, args, args.actions, total)
        token = mint_admin_token(devauth)
        after = measure(stack, api.url, token, args.runs, meter)

        section("result")
        print(f"{'':<26}{'API ms':>10}{'floor ms':>10}{'query ms':>10}{'API/floor':>11}")
        for label, f in ((f"{args.actions:,} actions", before), (f"{total:,} actions", after)):
            print(
                f"{label:<26}{f['api']:>10.1f}{f['floor']:>10.1f}{f['service query']:>10.1f}"
                f"{f['api'] / f['floor']:>11.2f}"
            )
        to_floor = after["api"] / after["floor"]
        growth = after["api"] / before["api"]
        print_ratio(f"API/floor at {total:,} actions", to_floor, 3)
        print_ratio(f"API after/before (x{args.factor} actions)", growth, 1.25)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (psycopg.Error, requests.RequestException) as exc:
        print(f"admin-list: {exc}", file=sys.stderr)
        sys.exit(1)
