"""Retention: `python -m personas.prune` deletes persona_actions older than
ACTION_RETENTION_DAYS and tick transcripts older than TRANSCRIPT_RETENTION_DAYS in
bounded batches, pausing after each (`--pause-ratio`) so the API keeps the database's CPU,
then exits (the Procfile's `prune`, for cron or a platform scheduler).
Ratings and tick records are kept: they are small and trends need history."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

import psycopg

from config import Config, ConfigError
from personas.db import apply_transaction_settings, connect_kwargs
from personas.queries import queries

DEFAULT_BATCH_SIZE = 5000
MAX_BATCH_SIZE = 100_000
# A progress line every this many batches: enough to see a long run move, not a
# line per batch over millions of rows.
PROGRESS_EVERY = 50
# After each batch the prune sleeps this many times as long as the batch took, so it keeps
# at most a third of a core busy: on a small database server a prune flat out took the
# CPU the API's writes need (BENCHMARKS.md, "Ingest during a prune").
DEFAULT_PAUSE_RATIO = 2.0
MAX_PAUSE_RATIO = 100.0


@dataclass(frozen=True)
class Expiring:
    """Rows that expire: how the summary names them, and their two queries."""

    rows: str
    count: Callable[..., Any]
    delete: Callable[..., Any]


ACTIONS = Expiring(
    "persona_actions rows", queries.prune.count_expired_actions, queries.prune.delete_expired_actions
)
TRANSCRIPTS = Expiring(
    "transcripts", queries.prune.count_expired_transcripts, queries.prune.delete_expired_transcripts
)


def positive_int(maximum: int):
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {raw!r}") from None
        if not 1 <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be between 1 and {maximum}, got {value}")
        return value

    return parse


def pause_ratio(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {raw!r}") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_PAUSE_RATIO):
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_PAUSE_RATIO:g}, got {raw!r}")
    return value


@dataclass
class Pace:
    """The time spent deleting and pausing: after each batch a pause `ratio` times as long."""

    ratio: float
    deleting: float = field(default=0.0, init=False)
    paused: float = field(default=0.0, init=False)

    def run(self, batch: Callable[[], int]) -> int:
        start = time.monotonic()
        deleted = batch()
        took = time.monotonic() - start
        self.deleting += took
        if self.ratio:
            time.sleep(self.ratio * took)
            self.paused += time.monotonic() - start - took
        return deleted


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m personas.prune",
        description="Delete persona actions and tick transcripts older than their retention "
        "windows, in small batches. Env: DATABASE_URL, ACTION_RETENTION_DAYS (default 90), "
        "TRANSCRIPT_RETENTION_DAYS (default 30). Ratings and tick records are never deleted.",
    )
    parser.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
    parser.add_argument(
        "--batch-size",
        type=positive_int(MAX_BATCH_SIZE),
        default=DEFAULT_BATCH_SIZE,
        help=f"rows per batch, each its own short transaction (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--days",
        type=positive_int(36_500),
        default=None,
        help="retention window of actions in days (default: ACTION_RETENTION_DAYS)",
    )
    parser.add_argument(
        "--transcript-days",
        type=positive_int(36_500),
        default=None,
        help="retention window of transcripts in days (default: TRANSCRIPT_RETENTION_DAYS)",
    )
    parser.add_argument(
        "--pause-ratio",
        type=pause_ratio,
        default=DEFAULT_PAUSE_RATIO,
        help="after each batch, pause this many times as long as the batch took, leaving the "
        f"database's CPU to the API's writes (default {DEFAULT_PAUSE_RATIO:g}: at most a third "
        "of a core; 0: no pause, as fast as the database allows)",
    )
    return parser.parse_args(argv)


def connect(config: Config) -> psycopg.Connection:
    # Autocommit: every batch commits on its own, so locks last one batch, not the run.
    return psycopg.connect(config.database_url, autocommit=True, **connect_kwargs(config, "personas-prune"))


def delete_batch(
    conn: psycopg.Connection, config: Config, kind: Expiring, cutoff: datetime, batch_size: int
) -> int:
    """One batch, one transaction (with our settings, behind a transaction pooler too)."""
    with conn.transaction():
        apply_transaction_settings(conn, config)
        return kind.delete(conn, cutoff=cutoff, batch_size=batch_size)


def delete_in_batches(
    conn: psycopg.Connection,
    config: Config,
    kind: Expiring,
    cutoff: datetime,
    args: argparse.Namespace,
    pace: Pace,
    out: TextIO,
) -> int:
    """Delete batch after batch, each followed by its pause, until one finds nothing left;
    return the rows removed."""
    removed = batches = 0
    while deleted := pace.run(lambda: delete_batch(conn, config, kind, cutoff, args.batch_size)):
        removed += deleted
        batches += 1
        if batches % PROGRESS_EVERY == 0:
            print(f"prune: {removed} {kind.rows} removed so far ({batches} batches)", file=out, flush=True)
    return removed


def close_abandoned_ticks(conn: psycopg.Connection, config: Config) -> tuple[int, int]:
    """End the lapsed leases, closing their runners' running ticks as abandoned, and close
    the stale running ticks, as the next claim would: a fleet that stopped claiming still
    gets its ticks closed. (leases ended, stale ticks closed)"""
    with conn.transaction():
        apply_transaction_settings(conn, config)
        return queries.internal.sweep_expired_leases(conn), queries.internal.close_stale_ticks(conn)


def prune_one(
    conn: psycopg.Connection,
    config: Config,
    args: argparse.Namespace,
    pace: Pace,
    kind: Expiring,
    days: int,
    out: TextIO,
) -> str:
    """Prune (or count) one kind of row; its part of the summary line."""
    cutoff = queries.prune.retention_cutoff(conn, days=days)
    window = f"older than {days} days (created before {cutoff.isoformat()})"
    if args.dry_run:
        return f"would remove {kind.count(conn, cutoff=cutoff)} {kind.rows} {window}"
    return f"removed {delete_in_batches(conn, config, kind, cutoff, args, pace, out)} {kind.rows} {window}"


def prune(config: Config, args: argparse.Namespace, out: TextIO) -> None:
    windows = (
        (ACTIONS, args.days or config.action_retention_days),
        (TRANSCRIPTS, args.transcript_days or config.transcript_retention_days),
    )
    pace = Pace(args.pause_ratio)
    with connect(config) as conn:
        parts = [prune_one(conn, config, args, pace, kind, days, out) for kind, days in windows]
        if args.dry_run:
            print(f"prune: dry run: {'; '.join(parts)}", file=out)
            return
        leases, stale = close_abandoned_ticks(conn, config)
    print(
        f"prune: {'; '.join(parts)}; ended {leases} lapsed leases"
        f" (their runners' running ticks closed as abandoned); closed {stale} stale running ticks;"
        f" deleting took {pace.deleting:.3f} s, pausing {pace.paused:.3f} s (--pause-ratio {pace.ratio:g})",
        file=out,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"prune: {exc}", file=sys.stderr)
        return 2
    try:
        prune(config, args, sys.stdout)
    except psycopg.errors.UndefinedTable:
        print("prune: the schema is not migrated; run `python -m personas.migrate` first", file=sys.stderr)
        return 1
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # Batches already committed stay deleted; a rerun carries on where this one stopped.
        print(f"prune: the database is unreachable or failed: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
