"""A year of a real fleet: 10,000 personas (a quarter hourly, the rest daily) and a year of
their ticks, tool calls, ratings and transcripts; then every read the size could slow,
each beside its floor in the same run, and the database's size per table against the raw
data's.

All 10,000 personas are seeded (listed, due, claimed); `--scale` is the fraction of them
whose year of history is written (the rollups hold days x modules x archetypes, so their
size does not follow the fleet's; the raw tables do, linearly). Each tick is one of a
pool of catalog-like ticks (bench/transcripts.py: 3 to 8 tool calls, 1 to 3 rated modules
with notes, the transcript as the service stores it), written day by day with COPY, one
transaction a day, so the rollup triggers keep the rollups as the service's writes do;
a sample of each rollup is then checked against the raw rows. What is written is what a
daily `prune` leaves at the default retention: ticks and ratings for the whole year, tool
calls for the last 90 days, transcripts for the last 30. The product ships a version
every two weeks, so the releases comparison reads two weeks' ticks a side.

    .venv/bin/python bench/fleet_year.py                 # --scale 0.02: 200 personas' year
    .venv/bin/python bench/fleet_year.py --scale 0.05 --runs 15
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.fleet import ARCHETYPES, persona_id
from bench.insights import compare
from bench.meters import interleaved_medians, spread
from bench.stack import ADMIN, INTERNAL, Stack, bench, bench_args, mint_admin_token, section, seed_fleet
from bench.ticks import claims_round, put_phase
from bench.transcripts import CATALOG, transcript
from personas.idempotency import action_key, feedback_key
from personas.queries import queries
from personas.releases import comparison, versions_compared
from personas.transcripts import pack

FLEET = 10_000
RELEASE_DAYS = 14  # the product ships a version every two weeks
ACTION_DAYS, TRANSCRIPT_DAYS = 90, 30  # the default retention (ACTION_/TRANSCRIPT_RETENTION_DAYS)


@dataclass(frozen=True)
class PoolTick:
    """One catalog-like tick: what its transcript says it did, and the transcript stored."""

    calls: list[tuple[str, str, str | None, int]]  # tool, result, error message, latency
    ratings: list[tuple[str, int, str | None]]  # module, rating, notes
    events: bytes
    digest: bytes
    raw_bytes: int


def tick_pool(rng: random.Random, size: int) -> list[PoolTick]:
    personas = json.loads(CATALOG.read_text())["personas"]
    pool = []
    for _ in range(size):
        events = transcript(rng, rng.choice(personas))
        calls = [
            (e["tool"], e["result"], e["output"] if e["result"] == "error" else None, e["latencyMs"])
            for e in events
            if e["kind"] == "call"
        ]
        ratings = [
            (r["module"], r["rating"], r["notes"] if r["rating"] <= 3 else None)
            for r in events[-1]["ratings"]
        ]
        packed = pack(events)
        pool.append(PoolTick(calls, ratings, packed.events, packed.digest, packed.raw_bytes))
    return pool


def fleet_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scale", type=float, default=0.02, help="fraction of the fleet with a year (default 0.02)"
    )
    parser.add_argument("--days", type=int, default=365, help="days of history (default 365)")


def shape_fleet(stack: Stack) -> None:
    """A quarter of the fleet hourly, the rest daily (persona n: hourly when n % 4 == 0)."""
    ids = [persona_id(n) for n in range(FLEET)]
    hourly = ids[::4]
    with stack.connect() as conn:
        conn.execute("UPDATE personas.personas SET tick_cadence = 'daily'")
        conn.execute(
            "UPDATE personas.personas SET tick_cadence = 'hourly' WHERE user_id = ANY(%s)", (hourly,)
        )
        conn.commit()


def row_bytes(row: tuple) -> int:
    """The row as COPY's text carries it: each value's text and a separator."""
    return sum(len(v) if isinstance(v, bytes) else len(str(v)) for v in row if v is not None) + len(row)


def write_year(
    stack: Stack,
    writers: int,
    days: int,
    pool: list[PoolTick],
    action_days: int = ACTION_DAYS,
    transcript_days: int = TRANSCRIPT_DAYS,
) -> dict[str, int]:
    """`days` of ticks of the first `writers` personas, oldest day first, one transaction
    (four COPYs) a day, tool calls for the last `action_days` and transcripts for the last
    `transcript_days` of them; the raw bytes written per table."""
    rng = random.Random(29)
    raw = {"persona_ticks": 0, "persona_actions": 0, "persona_feedback": 0, "persona_transcripts": 0}
    first_day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
    with stack.connect() as conn:
        for d in range(days):
            ticks, actions, ratings, transcripts = [], [], [], []
            day = first_day + timedelta(days=d)
            keep_actions, keep_transcripts = days - d <= action_days, days - d <= transcript_days
            for n in range(writers):
                pid, archetype = persona_id(n), ARCHETYPES[n % len(ARCHETYPES)]
                hours = range(24) if n % 4 == 0 else (rng.randrange(24),)
                for hour in hours:
                    tick_id = f"y{d}-{hour}"
                    started = day + timedelta(hours=hour, seconds=rng.randrange(3000))
                    finished = started + timedelta(seconds=rng.randint(40, 240))
                    tick = rng.choice(pool)
                    state = "ok" if rng.random() < 0.93 else rng.choice(("failed", "timeout"))
                    step = None if state == "ok" else ("driver" if state == "failed" else "timeout")
                    ticks.append(
                        (
                            pid,
                            tick_id,
                            "runner-1",
                            state,
                            step,
                            "claude",
                            "claude-sonnet-4-5",
                            started,
                            finished,
                            rng.randint(6000, 14000),
                            rng.randint(600, 2000),
                            round(rng.uniform(0.02, 0.08), 6),
                            "mana",
                            f"1.{d // RELEASE_DAYS}.0",
                        )
                    )
                    for i, (tool, result, error, latency) in enumerate(tick.calls if keep_actions else ()):
                        at = started + (finished - started) * (i + 1) / (len(tick.calls) + 1)
                        actions.append(
                            (pid, action_key(tick_id, i, tool), tick_id, tool, result, error, latency, i, at)
                        )
                    for module, rating, notes in tick.ratings:
                        ratings.append(
                            (
                                pid,
                                feedback_key(tick_id, module),
                                tick_id,
                                module,
                                rating,
                                notes,
                                archetype,
                                finished,
                            )
                        )
                    if keep_transcripts:
                        transcripts.append((pid, tick_id, tick.digest, tick.events, tick.raw_bytes, finished))
            copy_rows(conn, "persona_ticks", TICK_COLUMNS, ticks, raw)
            copy_rows(conn, "persona_actions", ACTION_COLUMNS, actions, raw)
            copy_rows(conn, "persona_feedback", RATING_COLUMNS, ratings, raw)
            copy_rows(conn, "persona_transcripts", TRANSCRIPT_COLUMNS, transcripts, raw)
            conn.commit()
        # The transcripts' raw size is the JSON the runner sends, not the stored zlib.
        raw["persona_transcripts"] = conn.execute(
            "SELECT sum(raw_bytes + 100)::bigint FROM personas.persona_transcripts"
        ).fetchone()[0]
        conn.execute(
            "UPDATE personas.personas p SET last_active_at = t.last"
            " FROM (SELECT persona_id, max(started_at) AS last FROM personas.persona_ticks GROUP BY 1) t"
            " WHERE p.user_id = t.persona_id"
        )
        conn.commit()
    return raw


TICK_COLUMNS = (
    "persona_id, tick_id, runner_id, state, step, driver, model, started_at, finished_at,"
    " input_tokens, output_tokens, cost_usd, product_name, product_version"
)
ACTION_COLUMNS = (
    "persona_id, id, tick_id, tool_name, result, error_message, latency_ms, call_index, created_at"
)
RATING_COLUMNS = "persona_id, id, tick_id, module, rating, notes, archetype, created_at"
TRANSCRIPT_COLUMNS = "persona_id, tick_id, digest, events, raw_bytes, created_at"


def copy_rows(conn, table: str, columns: str, rows: list[tuple], raw: dict[str, int]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY personas.{table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            raw[table] += row_bytes(row)


ROLLUP_CHECKS = {
    "rating_weekly": """
        SELECT (SELECT array_agg((module, archetype, total, n) ORDER BY module, archetype)
                  FROM personas.rating_weekly WHERE week = %(week)s)
             IS NOT DISTINCT FROM (SELECT array_agg((module, archetype, total, n) ORDER BY module, archetype)
                  FROM (SELECT module, archetype, sum(rating)::bigint AS total, count(*) AS n
                          FROM personas.persona_feedback
                         WHERE date_trunc('week', created_at AT TIME ZONE 'UTC')::date = %(week)s
                         GROUP BY 1, 2) f)""",
    "tool_calls_daily": """
        SELECT (SELECT array_agg((tool, calls, errors) ORDER BY tool)
                  FROM personas.tool_calls_daily WHERE day = %(day)s)
             IS NOT DISTINCT FROM (SELECT array_agg((tool_name, calls, errors) ORDER BY tool_name)
                  FROM (SELECT tool_name, count(*) AS calls,
                               count(*) FILTER (WHERE result = 'error') AS errors
                          FROM personas.persona_actions
                         WHERE (created_at AT TIME ZONE 'UTC')::date = %(day)s GROUP BY 1) a)""",
    "tick_runs_daily": """
        SELECT (SELECT (ticks, ok, cost_usd, spent_usd) FROM personas.tick_runs_daily WHERE day = %(day)s)
             IS NOT DISTINCT FROM (SELECT (count(*), count(*) FILTER (WHERE state = 'ok'),
                                           sum(cost_usd), sum(cost_usd))
                  FROM personas.persona_ticks WHERE (started_at AT TIME ZONE 'UTC')::date = %(day)s)""",
}


def check_rollups(stack: Stack, days: int) -> None:
    """The rollups the triggers kept, against the raw rows, on a few days and weeks."""
    today = datetime.now(UTC).date()
    with stack.connect() as conn:
        for back in (days - 3, min(days // 2, 60), 10):
            day = today - timedelta(days=back)
            week = day - timedelta(days=day.weekday())
            for name, sql in ROLLUP_CHECKS.items():
                same = conn.execute(sql, {"day": day, "week": week}).fetchone()[0]
                assert same, f"{name} differs from the raw rows on {day}"
    print(
        "rollups         rating_weekly, tool_calls_daily, tick_runs_daily equal to the raw rows on 3 samples"
    )


def sizes(stack: Stack, raw: dict[str, int]) -> None:
    section("database size per table (with indexes and TOAST) against the raw data")
    with stack.connect() as conn:
        rows = conn.execute(
            "SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'personas' AND c.relkind = 'r'"
            " ORDER BY 3 DESC"
        ).fetchall()
    for name, count, size in rows:
        ratio = f"{size / raw[name]:5.2f}x raw ({raw[name] / 1e6:8.1f} MB)" if raw.get(name) else ""
        print(f"{name:<22} {max(count, 0):>12,} rows {size / 1e6:10.1f} MB  {ratio}")
    print(f"{'all':<22} {'':>17} {sum(r[2] for r in rows) / 1e6:10.1f} MB")


def side_by_side(name: str, runs: int, api, floor) -> None:
    medians = interleaved_medians(runs, {"api": api, "floor": floor})
    (api_ms, api_times), (floor_ms, _) = medians["api"], medians["floor"]
    print(
        f"{name:<26} api {api_ms:8.1f} ms  floor {floor_ms:8.1f} ms  ratio {api_ms / floor_ms:5.2f}"
        f"  (api {spread(api_times)})"
    )


def write_fleet(stack: Stack, writers: int, days: int, **keep: int) -> dict[str, int]:
    """The fleet seeded and shaped, `days` of the first `writers` personas' history written
    (`keep`: write_year's action_days and transcript_days), then VACUUM ANALYZE, and a line
    saying what was written; the raw bytes written per table."""
    seed_fleet(stack, FLEET, 0.5)
    shape_fleet(stack)
    start = time.perf_counter()
    pool = tick_pool(random.Random(25), 400)
    raw = write_year(stack, writers, days, pool, **keep)
    with stack.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM personas.persona_ticks),"
            " (SELECT count(*) FROM personas.persona_actions),"
            " (SELECT count(*) FROM personas.persona_feedback),"
            " (SELECT count(*) FROM personas.persona_transcripts)"
        ).fetchone()
    print(
        f"written         {counts[0]:,} ticks, {counts[1]:,} tool calls, {counts[2]:,} ratings and "
        f"{counts[3]:,} transcripts in {time.perf_counter() - start:.0f} s"
        " (COPY through the triggers, then VACUUM ANALYZE)"
    )
    return raw


def reads(stack: Stack, api_url: str, token: str, args: argparse.Namespace) -> None:
    """The admin list page, the admin detail, history and /due, each against psycopg
    running the same statements (or, for the list, reading the page's rows plainly)."""
    admin, service = requests.Session(), requests.Session()
    admin.headers["Authorization"] = f"Bearer {token}"
    service.headers["X-Service-Key"] = stack.service_key
    conn = stack.connect(autocommit=True)
    busiest = persona_id(0)  # hourly, a year of ticks

    def get(session, path, **params):
        response = session.get(f"{api_url}{path}", params=params, timeout=120)
        response.raise_for_status()
        return response.content

    def list_floor():
        return conn.execute(
            "SELECT user_id, email, archetype, tick_cadence, last_active_at, created_at"
            " FROM personas.personas ORDER BY created_at DESC, user_id DESC LIMIT 50"
        ).fetchall()

    def detail_floor():
        q = queries.admin
        q.persona_detail(conn, persona_id=busiest)
        q.recent_actions(conn, persona_id=busiest, limit=20)
        q.feedback_by_module(conn, persona_id=busiest)
        q.recent_ticks(conn, persona_id=busiest, limit=20)

    section(f"reads, median of {args.runs} runs each, API and floor in turn")
    side_by_side("admin list, page of 50", args.runs, lambda: get(admin, ADMIN, limit=50), list_floor)
    side_by_side("admin detail (hourly)", args.runs, lambda: get(admin, f"{ADMIN}/{busiest}"), detail_floor)
    side_by_side(
        "history ticks=5 (hourly)",
        args.runs,
        lambda: get(service, f"{INTERNAL}/{busiest}/history", ticks=5),
        lambda: queries.internal.persona_history(conn, persona_id=busiest, ticks=5, tools=50, ratings=100),
    )

    def releases_floor():
        seen = queries.releases.product_releases(conn)
        return comparison(conn, *versions_compared(seen))

    side_by_side(
        "releases, newest two", args.runs, lambda: get(admin, f"{ADMIN}/insights/releases"), releases_floor
    )
    side_by_side(
        "/due, whole list",
        args.runs,
        lambda: get(service, f"{INTERNAL}/due"),
        lambda: queries.internal.due_personas(conn, limit=None, now=None, after_at=None, after_id=None),
    )
    conn.close()


def main() -> int:
    args = bench_args(__doc__, fleet_options, runs=9, clients=8, duration=6)
    args.personas = FLEET
    writers = max(1, round(FLEET * args.scale))
    with bench(
        f"A year of a fleet of {FLEET:,} personas, {writers:,} with {args.days} days of history", args
    ) as stack:
        raw = write_fleet(stack, writers, args.days)
        check_rollups(stack, args.days)
        sizes(stack, raw)

        section(f"insights, the whole answer in psycopg against reading its rollup rows, {args.runs} runs")
        compare(stack.url, args.runs)

        devauth = stack.start_devauth()
        api = stack.start_api(args, auth_url=devauth.url)
        budgeted = stack.start_api(args, name="web-budget", extra_env={"FLEET_DAILY_BUDGET_USD": "1e9"})
        reads(stack, api.url, mint_admin_token(devauth), args)

        section(
            f"PUT a final tick, {args.clients} clients, {args.duration:g} s,"
            " against psycopg running its statements"
        )
        tick_api, tick_direct = put_phase(stack, api.url, args)
        print(
            f"tick route     api {tick_api:8.1f} req/s   psycopg {tick_direct:8.1f} req/s"
            f"   ratio {tick_api / tick_direct:.2f}"
        )

        section(
            f"claims until empty, {args.clients} runners, limit 10: budget set (never reached) against none"
        )
        off = claims_round(stack, api.url, args)
        on = claims_round(stack, budgeted.url, args)
        print(
            f"claims         budget off {off:8.1f} personas/s   on {on:8.1f}"
            f"   time ratio on/off {off / on:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
