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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
import requests

from bench.meters import CpuMeter, interleaved_medians, spread
from bench.stack import INTERNAL, bench, bench_args, print_ratio, section, seed_fleet
from personas.queries import queries

# The rows /due returns, as a client holding a database connection would read them, by
# the same rule (personas.is_due, in sql/functions/cadence.sql).
RAW_DUE = """
SELECT user_id, email, archetype, system_prompt, module_mix, tick_cadence, last_active_at
  FROM personas.personas p
 WHERE personas.is_due(p.tick_cadence, p.last_active_at, p.run_requested_at, p.lease_until, now())
 ORDER BY p.last_active_at NULLS FIRST, p.user_id
"""


def due_fraction(parser) -> None:
    parser.add_argument(
        "--due-fraction", type=float, default=0.5, help="share of them that is due (default 0.5)"
    )


def main() -> int:
    args = bench_args(__doc__, due_fraction, personas=10_000, runs=15)
    with bench("due: GET /internal/due against psycopg", args) as stack:
        due = seed_fleet(stack, args.personas, args.due_fraction)
        api = stack.start_api(args)

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
        print_ratio("API/raw", ratio, 1.5)
        ok = api_count == raw_count == due
        if not ok:
            print("WARNING: the API and the raw query disagree on the due rows")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
