"""Ingest during a prune: action rows per second through POST /internal/<id>/actions while
`python -m personas.prune` deletes a month of expired tool calls and transcripts, against
the same ingest with no prune, in alternated rounds on the same database.

The database holds a year of a fleet as bench/fleet_year.py writes it (`--scale`), but
with tool calls and transcripts kept `--expired-days` longer than the default retention:
what a daily prune finds after a month without one. A copy of the expired rows is taken
once; before every phase they are put back (through the triggers, as the runners wrote
them) and the two tables vacuumed, so every phase starts alike and every prune deletes the
same rows. A round is `--duration` s of ingest without a prune and, for each
`--prune-args`, `--duration` s from the start of a prune run with those options, in an
order that turns each round, so someone else's load hits every phase alike. Printed: each
round's rates and ratios (ingest during / without, target >= 0.8), their median and range
over all rounds and over the quiet ones (little load from outside), the prune's own
duration, where the CPU went, and what the backends waited on during it.

    .venv/bin/python bench/prune_ingest.py --scale 0.025     # the prune as scheduled
    .venv/bin/python bench/prune_ingest.py --scale 0.05 --prune-args="--pause-ratio 0" --prune-args=""
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fleet import persona_id
from bench.fleet_year import ACTION_DAYS, FLEET, TRANSCRIPT_DAYS, fleet_options, write_fleet
from bench.load import post_action_batches, run_clients
from bench.meters import CpuMeter
from bench.stack import ROOT, Stack, bench, bench_args, every, section, verdict

TARGET = 0.8
# A round counts as quiet when load we did not make kept at most this many cores busy in
# each of its phases: on a shared machine, someone else's burst moves ingest more than the
# prune does.
QUIET_OTHER = 0.5
RETENTION = {"persona_actions": ACTION_DAYS, "persona_transcripts": TRANSCRIPT_DAYS}
# What each active backend, the prune's or the API's, is doing (on CPU or waiting on what,
# and whether for a lock the prune holds), sampled every SAMPLE_SECONDS while a phase runs.
ACTIVITY = """
    SELECT CASE WHEN a.application_name = 'personas-prune' THEN 'prune' ELSE 'ingest' END,
           coalesce(a.wait_event_type || ':' || a.wait_event, 'CPU')
           || CASE WHEN EXISTS (SELECT 1 FROM pg_stat_activity b
                                 WHERE b.pid = ANY (pg_blocking_pids(a.pid))
                                   AND b.application_name = 'personas-prune')
                   THEN ' (behind the prune)' ELSE '' END
      FROM pg_stat_activity a
     WHERE a.state = 'active' AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"""
SAMPLE_SECONDS = 0.05


def options(parser: argparse.ArgumentParser) -> None:
    fleet_options(parser)
    parser.add_argument(
        "--expired-days",
        type=int,
        default=30,
        help="days of tool calls and transcripts past their retention (default 30)",
    )
    parser.add_argument("--batch-rows", type=int, default=100, help="action rows per POST (default 100)")
    parser.add_argument(
        "--prune-args",
        action="append",
        help="options of one prune setting, as one string (repeat to compare settings; default: none)",
    )


@dataclass
class Phase:
    """One phase of a round: the ingest rate, and the prune's own run when there was one."""

    rows_per_second: float
    errors: int
    cpu: str
    other: float
    waits: dict[str, Counter]
    prune_seconds: float | None = None
    prune_output: str = ""


class Expired:
    """The rows expired now, copied once, and put back before each phase. The cutoffs are
    fixed here: rows that expire while the benchmark runs are left to the prunes."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        with stack.connect(autocommit=True) as conn:
            self.cutoffs = {
                table: conn.execute("SELECT now() - %s * interval '1 day'", (days,)).fetchone()[0]
                for table, days in RETENTION.items()
            }
            for table, cutoff in self.cutoffs.items():
                conn.execute(
                    f"CREATE UNLOGGED TABLE public.expired_{table} AS"
                    f" SELECT * FROM personas.{table} WHERE created_at < %s",
                    (cutoff,),
                )
            self.counts = {
                table: conn.execute(f"SELECT count(*) FROM public.expired_{table}").fetchone()[0]
                for table in RETENTION
            }

    def restore(self) -> None:
        with self.stack.connect(autocommit=True) as conn:
            for table, cutoff in self.cutoffs.items():
                present = conn.execute(
                    f"SELECT count(*) FROM personas.{table} WHERE created_at < %s", (cutoff,)
                ).fetchone()[0]
                if present == 0:
                    conn.execute(f"INSERT INTO personas.{table} SELECT * FROM public.expired_{table}")
                elif present != self.counts[table]:
                    raise RuntimeError(f"{table}: {present} expired rows, neither none nor all")
                conn.execute(f"VACUUM ANALYZE personas.{table}")
            conn.execute("CHECKPOINT")


def start_prune(stack: Stack, prune_args: list[str], done: dict) -> None:
    """Run the prune in a thread, as the Procfile does; `done` gets its time and output."""
    env = {**os.environ, "DATABASE_URL": stack.url}

    def run() -> None:
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "personas.prune", *prune_args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        done["seconds"] = time.monotonic() - start
        done["output"] = (result.stdout + result.stderr).strip()
        done["ok"] = result.returncode == 0

    done["thread"] = threading.Thread(target=run)
    done["thread"].start()


def phase(stack: Stack, api, args: argparse.Namespace, prune_args: list[str] | None, tag: str) -> Phase:
    """`args.duration` s of ingest, with a prune run started as the clients go (or none)."""
    meter = CpuMeter(stack, [api])
    done: dict = {}
    waits: dict[str, Counter] = {"ingest": Counter(), "prune": Counter()}
    sampler = stack.connect(autocommit=True)

    def on_go() -> None:
        meter.start()
        if prune_args is not None:
            start_prune(stack, prune_args, done)

    def sample() -> None:
        for who, state in sampler.execute(ACTIVITY):
            waits[who][state] += 1

    with every(SAMPLE_SECONDS, sample):
        result = run_clients(
            post_action_batches,
            args.clients,
            on_go,
            urls=[api.url],
            service_key=stack.service_key,
            persona_ids=[persona_id(n) for n in range(FLEET)],
            batch_rows=args.batch_rows,
            duration=args.duration,
            run_tag=tag,
            clients=args.clients,
        )
        meter.stop(result.cpu_seconds)
    sampler.close()
    if prune_args is not None:
        done["thread"].join()
        if not done["ok"]:
            raise RuntimeError(f"the prune failed: {done['output']}")
    return Phase(
        rows_per_second=result.rows / result.elapsed,
        errors=result.errors,
        cpu=meter.report(),
        other=meter.shares()["other"],
        waits=waits,
        prune_seconds=done.get("seconds"),
        prune_output=done.get("output", ""),
    )


def describe(name: str, p: Phase) -> None:
    prune = f"  prune {p.prune_seconds:5.1f} s" if p.prune_seconds is not None else ""
    print(f"  {name:<24} {p.rows_per_second:8,.0f} rows/s  errors {p.errors}{prune}")
    print(f"  {'':<24} {p.cpu}")
    for who, states in p.waits.items():
        total = sum(states.values())
        if total:
            shares = ", ".join(f"{state} {n / total:.0%}" for state, n in states.most_common(5))
            print(f"  {'':<24} {who} backends: {shares}")


def ratios(name: str, rounds: list[dict[str, Phase]]) -> list[float]:
    """Ingest during the prune `name` against ingest without, round by round."""
    return [r[name].rows_per_second / r["no prune"].rows_per_second for r in rounds]


def ratio_line(label: str, ratios: list[float]) -> None:
    if not ratios:
        print(f"{label:<27} none")
        return
    median = statistics.median(ratios)
    print(
        f"{label:<27} ratios {' '.join(f'{x:.2f}' for x in ratios)}"
        f"  median {median:.2f} (range {min(ratios):.2f}-{max(ratios):.2f})"
        f"  {verdict(median, TARGET, lower_is_better=False)}"
    )


def summary(settings: dict[str, list[str]], rounds: list[dict[str, Phase]], duration: float) -> None:
    section("result: ingest during a prune / ingest without, per round")
    quiet = [r for r in rounds if max(p.other for p in r.values()) <= QUIET_OTHER]
    print(f"quiet rounds                {len(quiet)} of {len(rounds)} (other load <= {QUIET_OTHER} core)")
    for name in settings:
        ratio_line(f"prune {name!r}", ratios(name, rounds))
        ratio_line("  quiet rounds", ratios(name, quiet))
        seconds = [r[name].prune_seconds for r in rounds]
        print(
            f"{'':<27} prune ran {statistics.median(seconds):.1f} s median"
            f" (range {min(seconds):.1f}-{max(seconds):.1f}) against a {duration:g} s window"
        )
        print(f"{'':<27} last run: {rounds[-1][name].prune_output.splitlines()[-1]}")


def main() -> int:
    args = bench_args(__doc__, options, rounds=5, clients=4, duration=8)
    settings = {raw: shlex.split(raw) for raw in (args.prune_args or [""])}
    writers = max(1, round(FLEET * args.scale))
    with bench(
        f"ingest during a prune: {writers:,} of {FLEET:,} personas with {args.days} days,"
        f" {args.expired_days} days expired",
        args,
    ) as stack:
        write_fleet(
            stack,
            writers,
            args.days,
            action_days=ACTION_DAYS + args.expired_days,
            transcript_days=TRANSCRIPT_DAYS + args.expired_days,
        )
        expired = Expired(stack)
        print(
            f"expired         {expired.counts['persona_actions']:,} tool calls,"
            f" {expired.counts['persona_transcripts']:,} transcripts past the default retention"
        )
        api = stack.start_api(args)
        print(
            f"settings        {args.clients} client processes, {args.batch_rows}-row batches,"
            f" {args.duration:g} s per phase, {args.rounds} rounds; prune settings {list(settings)}"
        )
        names = ["no prune", *settings]
        rounds = []
        for r in range(args.rounds):
            section(f"round {r + 1}")
            order = names[r % len(names) :] + names[: r % len(names)]
            phases = {}
            for name in order:
                expired.restore()
                phases[name] = phase(stack, api, args, settings.get(name), secrets.token_hex(4))
                describe(name if name == "no prune" else f"prune {name!r}", phases[name])
            rounds.append(phases)
        summary(settings, rounds, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
