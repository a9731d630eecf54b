"""Due: GET /internal/due over a fleet of 10,000 personas, against psycopg reading the same rows.

Workload: `--personas` personas with 1-2 KB system prompts and mixes of 4-9 modules,
`--due-fraction` of them due (half never active, half idle for days), the rest active
in the last half hour. One client times GET /api/v1/personas/internal/due until the
whole body has arrived. Baseline: one psycopg connection runs the contract's rule
(every column the route returns, same order) and fetches every row into Python tuples
(jsonb parsed to dicts, timestamps to datetimes). The two alternate, `--runs` times
each after a warm-up, and the medians are compared (target: API <= 1.5 x raw). For
reference it also times the service's own due query through psycopg (the rows the route
serialises) and the API with the client parsing the body.

    .venv/bin/python bench/due.py
    .venv/bin/python bench/due.py --personas 20000 --runs 25
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
import requests

from bench.fleet import seed_personas
from bench.meters import CpuMeter, interleaved_medians, spread, verdict
from bench.stack import INTERNAL, add_service_flags, bench_parser, print_header, section, throwaway_stack
from personas.queries import queries

# The rows /due returns, as a client holding a database connection would read them, by
# the same rule (personas.is_due, in sql/functions/cadence.sql).
RAW_DUE = """
SELECT user_id, email, archetype, system_prompt, module_mix, tick_cadence, last_active_at
  FROM personas.personas p
 WHERE personas.is_due(p.tick_cadence, p.last_active_at, p.run_requested_at, p.lease_until, now())
 ORDER BY p.last_active_at NULLS FIRST, p.user_id
"""


def parse_args() -> argparse.Namespace:
    parser = bench_parser(__doc__)
    parser.add_argument("--personas", type=int, default=10_000, help="personas to seed (default 10000)")
    parser.add_argument(
        "--due-fraction", type=float, default=0.5, help="share of them that is due (default 0.5)"
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each side (default 15)")
    add_service_flags(parser)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    print_header("due: GET /internal/due against psycopg")
    with throwaway_stack(args.keep_logs) as stack:
        start = time.perf_counter()
        with stack.connect() as conn:
            due = seed_personas(conn, args.personas, args.due_fraction)
            table_mb = conn.execute("SELECT pg_total_relation_size('personas.personas') / 1e6").fetchone()[0]
        print(
            f"seeded          {args.personas} personas, {due} due, table {table_mb:.1f} MB "
            f"in {time.perf_counter() - start:.1f} s"
        )
        api = stack.start_api(args)
        print(
            f"service         gunicorn --workers {args.workers} --threads {args.threads}, "
            f"DB_POOL_MIN={args.db_pool_min} DB_POOL_MAX={args.db_pool_max}"
        )

        session = requests.Session()
        session.headers["X-Service-Key"] = stack.service_key
        conn = stack.connect(autocommit=True)

        def api_due() -> bytes:
            response = session.get(f"{api.url}{INTERNAL}/due", timeout=60)
            response.raise_for_status()
            return response.content

        def api_due_parsed() -> object:
            return orjson.loads(api_due())

        def raw_due() -> list[tuple]:
            return conn.execute(RAW_DUE).fetchall()

        def service_query() -> object:
            return queries.internal.due_personas(conn, now=None, after_at=None, after_id=None, limit=None)

        body = api_due()
        api_count = len(orjson.loads(body)["personas"])
        raw_count = len(raw_due())
        print(f"rows            API {api_count}, raw {raw_count}; body {len(body) / 1e6:.2f} MB")

        section(f"timing: API and raw alternating, {args.runs} runs each after a warm-up")
        meter = CpuMeter(stack, [api])
        meter.start()
        medians = interleaved_medians(
            args.runs,
            {
                "api": api_due,
                "raw": raw_due,
                "service query": service_query,
                "api + client parse": api_due_parsed,
            },
        )
        meter.stop()
        conn.close()
        for name, (median, times) in medians.items():
            print(f"{name:<20} median {median:7.1f} ms  ({spread(times)})")
        print(meter.report())

        section("result")
        ratio = medians["api"][0] / medians["raw"][0]
        print(f"API median      {medians['api'][0]:.1f} ms (body received)")
        print(f"raw median      {medians['raw'][0]:.1f} ms (rows in Python)")
        print(f"ratio API/raw   {ratio:.2f}  ({verdict(ratio, 1.5)})")
        ok = api_count == raw_count == due
        if not ok:
            print("WARNING: the API and the raw query disagree on the due rows")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
