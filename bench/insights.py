"""How long the insights queries take at a year of ratings from 10,000 personas.

Starts a throwaway PostgreSQL, applies the migrations, seeds personas and ratings with
generate_series, then runs each insights query several times and prints the median.

    .venv/bin/python bench/insights.py            # 10,000 personas, 52 weeks, 2.5 ratings/week
    .venv/bin/python bench/insights.py --personas 1000 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.postgres import LocalPostgres, create_database  # noqa: E402
from personas.migrate import apply  # noqa: E402
from personas.queries import queries  # noqa: E402
from scripts.catalog import ARCHETYPES as CATALOG_ARCHETYPES  # noqa: E402
from scripts.catalog import MODULES as CATALOG_MODULES  # noqa: E402

# The catalog's own spellings, so the benchmark's ratings look like the fleet's.
ARCHETYPES = list(CATALOG_ARCHETYPES)
MODULES = list(CATALOG_MODULES)

SEED_PERSONAS = """
INSERT INTO personas.personas (user_id, email, archetype, system_prompt, module_mix, tick_cadence,
                               last_active_at, created_at)
SELECT 'bench-' || i, 'bench-' || i || '@mana.test', (%(archetypes)s::text[])[1 + i %% 7],
       'A benchmark persona.', '{"todo": 1}', (ARRAY['daily', 'hourly', 'weekdays'])[1 + i %% 3],
       now() - (i %% 200) * interval '1 hour', now() - interval '400 days'
  FROM generate_series(1, %(personas)s) AS i
"""

# Each persona rates one module per tick, `ticks` ticks spread over the history; a fifth of
# the low ratings carry a note. The last weeks of `notes` get worse, so one module regresses.
# Rows go in in time order, as runners write them.
SEED_RATINGS = """
INSERT INTO personas.persona_feedback (persona_id, id, tick_id, module, rating, notes, created_at)
SELECT 'bench-' || p, 'tick-' || t || '-' || m.module, 'tick-' || t, m.module, r.rating,
       CASE WHEN r.rating <= 2 AND random() < 0.2 THEN 'It lost my last change again.' END,
       at.created_at
  FROM generate_series(1, %(personas)s) AS p
 CROSS JOIN generate_series(1, %(ticks)s) AS t
 CROSS JOIN LATERAL (SELECT now() - (t - random()) * %(span)s::interval / %(ticks)s AS created_at) AS at
 CROSS JOIN LATERAL (SELECT (%(modules)s::text[])[1 + (p + t) %% cardinality(%(modules)s::text[])]
                            AS module) AS m
 CROSS JOIN LATERAL (
       SELECT CASE WHEN m.module = 'notes' AND at.created_at > now() - interval '14 days'
                   THEN 1 + floor(random() * 3)::int
                   ELSE 2 + floor(random() * 4)::int END AS rating) AS r
 ORDER BY at.created_at
"""


def seed(url: str, personas: int, weeks: int, per_week: float) -> int:
    ticks = max(1, round(weeks * per_week))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT setseed(0.42)")
        conn.execute(SEED_PERSONAS, {"personas": personas, "archetypes": ARCHETYPES})
        conn.execute(
            SEED_RATINGS,
            {"personas": personas, "ticks": ticks, "span": f"{weeks} weeks", "modules": MODULES},
        )
        conn.execute("VACUUM ANALYZE")
        return conn.execute("SELECT count(*) FROM personas.persona_feedback").fetchone()[0]


def median_ms(run: Callable[[], object], runs: int) -> float:
    run()  # warm the cache and the prepared statement
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(url: str, runs: int) -> None:
    with psycopg.connect(url, options="-c timezone=UTC") as conn:
        for weeks in (8, 52):
            for archetype in (None, "solo-dev"):
                args = {"now": datetime.now(UTC), "weeks": weeks, "archetype": archetype}

                def modules(args=args):
                    return queries.insights.module_trends(conn, **args)

                def stale(args=args):
                    return queries.insights.stale_personas(conn, now=args["now"], archetype=args["archetype"])

                def friction(args=args):
                    return queries.insights.friction_notes(conn, **args, limit=50)

                def route(modules=modules, stale=stale, friction=friction):
                    return modules(), stale(), friction()

                label = f"weeks={weeks:<2} archetype={archetype or '-':<8}"
                figures = {
                    name: median_ms(fn, runs)
                    for name, fn in [
                        ("modules", modules),
                        ("stale", stale),
                        ("friction", friction),
                        ("all", route),
                    ]
                }
                print(label, "  ".join(f"{name} {ms:7.1f} ms" for name, ms in figures.items()))
                conn.rollback()


def explain(url: str) -> None:
    sql = queries.insights.module_trends.sql
    params = {"now": datetime.now(UTC), "weeks": 52, "archetype": None}
    with psycopg.connect(url, options="-c timezone=UTC") as conn:
        for (line,) in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params):
            print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--personas", type=int, default=10_000, help="personas to seed (default 10000)")
    parser.add_argument("--weeks", type=int, default=52, help="weeks of rating history (default 52)")
    parser.add_argument(
        "--per-week", type=float, default=2.5, help="ratings per persona per week (default 2.5)"
    )
    parser.add_argument("--runs", type=int, default=9, help="timed runs per query (default 9)")
    parser.add_argument("--explain", action="store_true", help="also print the plan of module_trends")
    args = parser.parse_args()

    with LocalPostgres() as server:
        server.wait_ready()
        url = create_database(server.url, "personas_bench")
        apply(url)
        start = time.perf_counter()
        rows = seed(url, args.personas, args.weeks, args.per_week)
        print(
            f"seeded {args.personas} personas, {rows} ratings over {args.weeks} weeks "
            f"in {time.perf_counter() - start:.1f} s"
        )
        measure(url, args.runs)
        if args.explain:
            explain(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
