"""Claims and ingest with one API instance, then two, against one PostgreSQL: where the time goes.

Claims: `--personas` personas, all due; `--runners` runner processes each POST
/api/v1/personas/internal/claims (`--limit` personas, `--lease-seconds`) until a claim
comes back empty, first all against one gunicorn instance, then (leases cleared) split
between two instances on different ports. Prints claims/s and personas/s, checks that no
persona was handed out twice, and shows how the rate changes as the fleet gets leased.
Ingest: `--clients` processes POST 500-row action batches for `--duration` seconds, to
one instance and then split between two. For every phase it prints the cores kept busy
by each gunicorn instance, by PostgreSQL (postmaster and backends), by the clients, and
by everything else on the machine, and the CPU time per claim or per row: when a second
instance adds nothing, the figures say which side was already saturated.

    .venv/bin/python bench/claims.py
    .venv/bin/python bench/claims.py --personas 50000 --runners 16 --workers 1 --threads 8
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fleet import persona_id, vacuum_analyze
from bench.load import LoadResult, claim_until_empty, ingest, run_clients
from bench.meters import CpuMeter
from bench.stack import Stack, bench, bench_args, section, seed_fleet
from devstack.processes import Process


def claim_options(parser) -> None:
    parser.add_argument("--runners", type=int, default=8, help="concurrent claiming runners (default 8)")
    parser.add_argument("--limit", type=int, default=10, help="personas per claim (default 10)")
    parser.add_argument("--lease-seconds", type=int, default=600, help="lease per claim (default 600)")
    parser.add_argument("--batch-rows", type=int, default=500, help="action rows per POST (default 500)")


def claim_phase(stack: Stack, apis: list[Process], args: argparse.Namespace) -> dict[str, float]:
    meter = CpuMeter(stack, apis)
    result: LoadResult = run_clients(
        claim_until_empty,
        args.runners,
        meter.start,
        urls=[api.url for api in apis],
        service_key=stack.service_key,
        limit=args.limit,
        lease_seconds=args.lease_seconds,
        duration=300,
    )
    meter.stop(result.cpu_seconds)
    claims = len(result.stamps)
    unique = len(set(result.ids))
    print(
        f"claimed         {len(result.ids)} personas ({unique} distinct) in {claims} claims "
        f"+ {result.requests - claims - result.errors} empty, {result.elapsed:.2f} s; {result.errors} errors"
    )
    print(
        f"rate            {claims / result.elapsed:,.1f} claims/s, "
        f"{len(result.ids) / result.elapsed:,.0f} personas/s"
    )
    print(result.latency_line())
    print(quarter_rates(result))
    print(meter.report())
    print(meter.per_unit(claims, "claim"))
    if unique != len(result.ids) or unique != args.personas:
        print("WARNING: a persona was handed out twice, or not every persona was claimed")
    return {
        "claims/s": claims / result.elapsed,
        "personas/s": len(result.ids) / result.elapsed,
        **meter.shares(),
    }


def quarter_rates(result: LoadResult) -> str:
    """Personas/s while the first quarter of the fleet was claimed, the second, and so on:
    a claim walks past the personas already leased, so later claims may cost more."""
    if not result.stamps:
        return "no claims"
    total = sum(n for _, n in result.stamps)
    start = result.stamps[0][0] - result.elapsed / max(1, len(result.stamps))
    rates, done, mark, quarter = [], 0, start, 1
    for stamp, n in result.stamps:
        done += n
        if done >= total * quarter / 4:
            rates.append(f"{total / 4 / max(stamp - mark, 1e-9):,.0f}")
            mark, quarter = stamp, quarter + 1
    return f"personas/s     by quarter of the fleet claimed: {' / '.join(rates)}"


def clear_leases(stack: Stack) -> None:
    with stack.connect() as conn:
        conn.execute("UPDATE personas.personas SET lease_runner = NULL, lease_until = NULL")
        conn.commit()
        vacuum_analyze(conn, "personas.personas")


def ingest_phase(stack: Stack, apis: list[Process], args: argparse.Namespace) -> dict[str, float]:
    meter = CpuMeter(stack, apis)
    persona_ids = [persona_id(n) for n in range(args.personas)]
    result = ingest(stack, apis, meter, persona_ids, args, secrets.token_hex(4))
    return {"rows/s": result.rows / result.elapsed, **meter.shares()}


def main() -> int:
    args = bench_args(__doc__, claim_options, personas=20_000, clients=8, duration=10)
    with bench("claims: one API instance against two, on one PostgreSQL", args) as stack:
        seed_fleet(stack, args.personas, 1.0)
        one = stack.start_api(args, name="web-a")
        two = stack.start_api(args, name="web-b")
        print(
            f"settings        {args.runners} runners claiming limit={args.limit} "
            f"leaseSeconds={args.lease_seconds}; "
            f"{args.clients} clients posting {args.batch_rows}-row batches for {args.duration:g} s"
        )
        figures = {}
        section(f"claims, one instance ({args.runners} runners)")
        figures["claims, 1 instance"] = claim_phase(stack, [one], args)
        clear_leases(stack)
        section(f"claims, two instances ({args.runners} runners split between them)")
        figures["claims, 2 instances"] = claim_phase(stack, [one, two], args)
        section(f"actions, one instance ({args.clients} clients)")
        figures["actions, 1 instance"] = ingest_phase(stack, [one], args)
        section(f"actions, two instances ({args.clients} clients split between them)")
        figures["actions, 2 instances"] = ingest_phase(stack, [one, two], args)

        section("result (cores busy: CPU seconds per second of the phase)")
        print(f"{'phase':<22}{'rate':>22}{'web-a':>7}{'web-b':>7}{'postgres':>9}{'clients':>8}{'other':>7}")
        for phase, f in figures.items():
            rate = f"{f['claims/s']:,.0f} claims/s" if "claims/s" in f else f"{f['rows/s']:,.0f} rows/s"
            print(
                f"{phase:<22}{rate:>22}{f.get('web-a', 0):>7.2f}{f.get('web-b', 0):>7.2f}"
                f"{f['postgres']:>9.2f}{f['clients']:>8.2f}{f['other']:>7.2f}"
            )
        claims_gain = figures["claims, 2 instances"]["claims/s"] / figures["claims, 1 instance"]["claims/s"]
        rows_gain = figures["actions, 2 instances"]["rows/s"] / figures["actions, 1 instance"]["rows/s"]
        print(f"two instances / one: claims {claims_gain:.2f}x, action rows {rows_gain:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
