"""Ingest: action rows per second through POST /internal/<id>/actions, against COPY.

Workload: `--clients` client processes, each with one keep-alive session, POST batches of
`--batch-rows` action rows (fresh tick ids every batch, so every row is new) to the
service under gunicorn for `--duration` seconds. Baseline, just before it on the same
database: one psycopg connection COPYing the same kind of rows straight into
personas.persona_actions, one COPY and one commit per `--copy-chunk` rows, for the same
duration. Prints both rates, their ratio (target >= 0.8), where the CPU went in each
phase, and the resident memory of every gunicorn process afterwards (target <= 100 MB).

    .venv/bin/python bench/ingest.py
    .venv/bin/python bench/ingest.py --duration 30 --clients 8 --workers 2 --threads 4
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fleet import action_rows, persona_id
from bench.load import ingest
from bench.meters import CpuMeter, max_rss_mb, memory_lines
from bench.stack import Stack, bench, bench_args, print_ratio, section, seed_fleet, verdict
from personas.idempotency import action_key

COPY_SQL = (
    "COPY personas.persona_actions "
    "(persona_id, id, tick_id, tool_name, input_hash, result, error_message, latency_ms) FROM STDIN"
)


def ingest_options(parser) -> None:
    parser.add_argument(
        "--batch-rows", type=int, default=500, help="action rows per POST, 1..500 (default 500)"
    )
    parser.add_argument("--copy-chunk", type=int, default=500, help="rows per COPY and commit (default 500)")


def copy_for(
    stack: Stack, persona_ids: list[str], chunk: int, duration: float, tag: str
) -> tuple[int, float]:
    """COPY chunks of rows shaped like the API's for `duration` seconds; (rows, seconds)."""
    template = [
        (
            r["tickId"].split("-t")[-1],
            r["toolName"],
            r["inputHash"],
            r["result"],
            r.get("errorMessage"),
            r["latencyMs"],
        )
        for r in action_rows(chunk)
    ]
    rows = 0
    with stack.connect() as conn:
        start = time.monotonic()
        seq = 0
        while time.monotonic() - start < duration:
            tick = f"{tag}-copy-{seq}"
            pid = persona_ids[seq % len(persona_ids)]
            seq += 1
            with conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
                for i, (t, tool, input_hash, result, error, latency) in enumerate(template):
                    tick_id = f"{tick}-t{t}"
                    copy.write_row(
                        (pid, action_key(tick_id, i, tool), tick_id, tool, input_hash, result, error, latency)
                    )
            conn.commit()
            rows += chunk
        return rows, time.monotonic() - start


def main() -> int:
    args = bench_args(__doc__, ingest_options, duration=15, clients=8, personas=1000)
    with bench("ingest: POST /internal/<id>/actions against COPY", args) as stack:
        seed_fleet(stack, args.personas, 0.5)
        persona_ids = [persona_id(n) for n in range(args.personas)]
        api = stack.start_api(args)
        tag = secrets.token_hex(4)
        print(
            f"settings        {args.clients} client processes, {args.batch_rows}-row batches, "
            f"{args.duration:g} s per phase; COPY chunks of {args.copy_chunk} rows; {args.personas} personas"
        )

        section("baseline: one psycopg connection, COPY ... FROM STDIN")
        meter = CpuMeter(stack, [api])
        meter.start()
        copy_rows, copy_seconds = copy_for(stack, persona_ids, args.copy_chunk, args.duration, tag)
        meter.stop()
        copy_rate = copy_rows / copy_seconds
        print(f"COPY            {copy_rows} rows in {copy_seconds:.2f} s = {copy_rate:,.0f} rows/s")
        print(meter.report())
        print(meter.per_unit(copy_rows, "row"))
        with stack.connect(autocommit=True) as conn:
            conn.execute("CHECKPOINT")

        section(f"workload: {args.clients} clients POSTing {args.batch_rows}-row batches")
        result = ingest(stack, [api], CpuMeter(stack, [api]), persona_ids, args, tag)
        api_rate = result.rows / result.elapsed

        with stack.connect() as conn:
            stored = conn.execute("SELECT count(*) FROM personas.persona_actions").fetchone()[0]
        print(f"stored rows     {stored} (expected {copy_rows + result.new_rows})")

        section("memory of the gunicorn processes after the run")
        for line in memory_lines(api):
            print(line)
        largest = max_rss_mb(api)

        section("result")
        ratio = api_rate / copy_rate
        print(f"API rows/s      {api_rate:,.0f}")
        print(f"COPY rows/s     {copy_rate:,.0f}")
        print_ratio("API/COPY", ratio, 0.8, lower_is_better=False)
        print(f"largest RSS     {largest:.1f} MB  ({verdict(largest, 100)})")
        ok = result.errors == 0 and result.new_rows == result.rows and stored == copy_rows + result.new_rows
        if not ok:
            print("WARNING: errors or rows missing; the figures above are not trustworthy")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
