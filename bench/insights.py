"""How long the insights queries take at a year of ratings from 10,000 personas, with the
action audit (10M rows by default) and a year of ticks.

Starts a throwaway PostgreSQL, applies the migrations, seeds personas, ratings, actions and
ticks with generate_series (through the rollup triggers, as the service's writes go), then
runs each insights query several times and prints the median; and the whole answer at
weeks=8 and weeks=52 against psycopg reading the rollup rows it is built from.

    .venv/bin/python bench/insights.py            # 10,000 personas, 52 weeks, 2.5 ratings/week
    .venv/bin/python bench/insights.py --personas 1000 --actions 1000000 --runs 3
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stack import bench, bench_args  # noqa: E402
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


# Actions over the last 90 days (the retention window), one day per statement so each
# trigger's transition table stays a day's worth; a tenth fail, latencies log-spread.
SEED_ACTIONS = """
INSERT INTO personas.persona_actions (persona_id, id, tick_id, tool_name, result, latency_ms, created_at)
SELECT 'bench-' || (1 + i %% %(personas)s), 'a-' || %(day)s || '-' || i, 'tick-' || %(day)s || '-' || i / 6,
       (%(tools)s::text[])[1 + (i * 7) %% cardinality(%(tools)s::text[])],
       CASE WHEN random() < 0.1 THEN 'error' ELSE 'ok' END,
       (exp(random() * 9))::int,
       now() - %(day)s * interval '1 day' - random() * interval '1 day'
  FROM generate_series(1, %(rows)s) AS i
"""

SEED_TICKS = """
INSERT INTO personas.persona_ticks (persona_id, tick_id, runner_id, state, step, started_at, finished_at,
                                    input_tokens, output_tokens, cost_usd)
SELECT 'bench-' || p, 'tick-' || d, 'bench', s.state,
       CASE WHEN s.state IN ('failed', 'timeout') THEN 'driver' END,
       at.started_at, at.started_at + interval '2 minutes', 9000, 1200, 0.045
  FROM generate_series(1, %(personas)s) AS p
 CROSS JOIN generate_series(1, %(days)s, 7) AS d
 CROSS JOIN LATERAL (SELECT now() - d * interval '1 day' - random() * interval '1 hour' AS started_at) AS at
 CROSS JOIN LATERAL (SELECT CASE WHEN random() < 0.05 THEN 'failed' ELSE 'ok' END AS state) AS s
"""

TOOLS = [f"{m}.{verb}" for m in MODULES for verb in ("create", "list", "update")]


def seed_runs(url: str, personas: int, actions: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for day in range(90):
            conn.execute(
                SEED_ACTIONS, {"personas": personas, "day": day, "rows": actions // 90, "tools": TOOLS}
            )
        conn.execute(SEED_TICKS, {"personas": personas, "days": 364})
        conn.execute("VACUUM ANALYZE")


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
                    return queries.insights.module_trends(conn, **args, space=None)

                def stale(args=args):
                    return queries.insights.stale_personas(
                        conn, now=args["now"], archetype=args["archetype"], limit=500
                    )

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


# What the answer is built from, read plainly: the baseline the route is held against.
ROLLUP_ROWS = """
SELECT (SELECT count(*) FROM (SELECT * FROM personas.rating_weekly WHERE week >= %(since)s::date) r),
       (SELECT count(*) FROM (SELECT * FROM personas.tool_calls_daily WHERE day >= %(since)s::date) t),
       (SELECT count(*) FROM (SELECT * FROM personas.tick_runs_daily WHERE day >= %(since)s::date) d)
"""


def whole_answer(conn: psycopg.Connection, now: datetime, weeks: int) -> None:
    window = {"now": now, "weeks": weeks, "archetype": None}
    queries.insights.module_trends(conn, **window, space=None)
    queries.insights.stale_personas(conn, now=now, archetype=None, limit=500)
    queries.insights.friction_notes(conn, **window, limit=50)
    queries.insights.runs_daily(conn, now=now, weeks=weeks)
    queries.insights.failing_personas(conn, **window, streak=20, limit=200)
    queries.insights.tool_health(conn, now=now, weeks=weeks, space=None)
    queries.insights.budget_standing(conn)


def compare(url: str, runs: int) -> None:
    """The whole answer at weeks=8 and 52, and psycopg reading the rollup rows of each."""
    with psycopg.connect(url, options="-c timezone=UTC") as conn:
        now = datetime.now(UTC)
        figures = {}
        for weeks in (8, 52):
            since = (now - timedelta(days=now.weekday() + 7 * max(weeks, 7))).date()

            def rows(since=since):
                with conn.cursor() as cur:
                    cur.execute("SELECT * FROM personas.rating_weekly WHERE week >= %s", (since,))
                    cur.fetchall()
                    cur.execute("SELECT * FROM personas.tool_calls_daily WHERE day >= %s", (since,))
                    cur.fetchall()
                    cur.execute("SELECT * FROM personas.tick_runs_daily WHERE day >= %s", (since,))
                    cur.fetchall()

            answer = median_ms(lambda weeks=weeks: whole_answer(conn, now, weeks), runs)
            baseline = median_ms(rows, runs)
            counts = conn.execute(ROLLUP_ROWS, {"since": since}).fetchone()
            figures[weeks] = answer
            print(
                f"weeks={weeks:<2} whole answer {answer:7.1f} ms   rollup rows by psycopg {baseline:7.1f} ms"
                f" ({sum(counts)} rows)   answer/rows {answer / baseline:5.2f}x"
            )
            conn.rollback()
        print(f"weeks=52 / weeks=8: {figures[52] / figures[8]:.2f}x")


def explain(url: str) -> None:
    sql = queries.insights.module_trends.sql
    params = {"now": datetime.now(UTC), "weeks": 52, "archetype": None}
    with psycopg.connect(url, options="-c timezone=UTC") as conn:
        for (line,) in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params):
            print(line)


def history_options(parser) -> None:
    parser.add_argument("--weeks", type=int, default=52, help="weeks of rating history (default 52)")
    parser.add_argument(
        "--per-week", type=float, default=2.5, help="ratings per persona per week (default 2.5)"
    )
    parser.add_argument("--actions", type=int, default=10_000_000, help="action rows (default 10M)")
    parser.add_argument("--explain", action="store_true", help="also print the plan of module_trends")


def main() -> int:
    args = bench_args(__doc__, history_options, service=False, personas=10_000, runs=9)
    with bench("insights: the queries at a year of history", args) as stack:
        url = stack.url
        start = time.perf_counter()
        rows = seed(url, args.personas, args.weeks, args.per_week)
        print(
            f"seeded {args.personas} personas, {rows} ratings over {args.weeks} weeks "
            f"in {time.perf_counter() - start:.1f} s"
        )
        start = time.perf_counter()
        seed_runs(url, args.personas, args.actions)
        print(
            f"seeded {args.actions} actions over 90 days and a year of weekly ticks "
            f"in {time.perf_counter() - start:.1f} s"
        )
        measure(url, args.runs)
        compare(url, args.runs)
        if args.explain:
            explain(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
