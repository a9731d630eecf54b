"""The runner service against the stand-ins: its own cost per tick, and how many personas
one process drives at a given PERSONA_CONCURRENCY.

One throwaway stack (PostgreSQL, devauth, the API, devmcp, devllm); `--personas` personas
registered through the admin API and asked to run now. Each phase starts
`python -m persona_runner serve` (RUNNER_DRIVER=claude, ANTHROPIC_BASE_URL at devllm)
with its PERSONA_CONCURRENCY, lets it warm up, measures a `--window` of seconds and stops
it. While a phase runs, personas the runner is not holding are asked to run again (the
column run-now sets, written in one UPDATE every half second), so it never runs out of
due ones.

1. Overhead: concurrency 2, devllm answering at once, measured once the runner has ticked
   every persona (as a runner up for a while: their tokens held, its workers' clients
   and connections open). Per tick: the runner process's CPU
   (utime + stime from /proc/<pid>/stat), and its wall time outside the model and MCP
   calls: the mean tick wall time (the runner's persona_tick_duration_seconds) less the
   time inside devllm (its access log's request time, %(D)s) and inside MCP tool calls
   (the latency the runner stored on each action row), per tick of the window.
2. Throughput: devllm stalls every model call `--think-ms` (its /dev/faults delay), at
   concurrency 2, 8 and 32: ticks per minute, the ideal (concurrency x 60 / mean tick
   wall time), and the runner's CPU in cores.

    .venv/bin/python bench/runner.py
    .venv/bin/python bench/runner.py --window 20 --concurrency 2 8
    .venv/bin/python bench/runner.py --overhead-only
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.meters import tree_cpu_seconds
from bench.stack import ADMIN, Stack, bench, bench_args, every, mint_admin_token, section
from devstack.postgres import free_port
from devstack.processes import Process, gunicorn_cmd
from persona_runner.password import persona_password
from scripts.catalog import MODULES

SEED_SECRET = f"bench-{secrets.token_urlsafe(12)}"
TIMEOUT = 10
# Many threads: a stalled model call holds one, and 32 ticks may stall at once.
DEVLLM_THREADS = 64
THINK_BATCHES = 10
WARM_LIMIT_S = 180
# The runner's own time per tick outside the model and the product (issue 24).
OVERHEAD_GOAL_MS = 100.0


def runner_options(parser) -> None:
    parser.add_argument("--window", type=float, default=30, help="measured seconds per phase (default 30)")
    parser.add_argument("--warmup", type=float, default=6, help="seconds before each window (default 6)")
    parser.add_argument("--think-ms", type=int, default=200, help="devllm stall per model call (default 200)")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[2, 8, 32], help="throughput settings (default 2 8 32)"
    )
    parser.add_argument(
        "--overhead-only", action="store_true", help="measure the overhead phase only (no throughput table)"
    )


# ---------------------------------------------------------------------------------------
# The stand-ins and the personas


def start_standins(stack: Stack, devauth: Process) -> tuple[Process, Process]:
    env = {"DATABASE_URL": stack.url, "MANA_AUTH_URL": devauth.url, "APP_ENV": "development"}
    devmcp = stack.start_process("devmcp", [sys.executable, "-m", "devmcp"], env, free_port())
    port = free_port()
    # The access log's request time (%(D)s, microseconds) is how long each model call took.
    cmd = gunicorn_cmd("devllm.app:app", port, workers=1, threads=DEVLLM_THREADS)
    cmd += ["--access-logfile", str(stack.log_dir / "devllm-access.log")]
    cmd += ["--access-logformat", "%(U)s %(s)s %(D)s"]
    devllm = stack.start_process("devllm", cmd, {"APP_ENV": "development"}, port)
    return devmcp, devllm


def register_personas(api: Process, token: str, count: int) -> list[str]:
    """Generated personas at @mana.test over the catalog's modules, each asked to run now."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    ids = []
    modules = list(MODULES)
    for n in range(count):
        email = f"bench-runner-{n}-{secrets.token_hex(4)}@mana.test"
        mix = {modules[n % len(modules)]: 0.5, modules[(n + 1) % len(modules)]: 0.3}
        mix[modules[(n + 2) % len(modules)]] = 0.2
        body = {
            "email": email,
            "password": persona_password(email, SEED_SECRET),
            "archetype": "nurse",
            "systemPrompt": f"You are persona {n}, a busy nurse who plans her week on her phone.",
            "moduleMix": mix,
            "tickCadence": "hourly",
        }
        answer = session.post(f"{api.url}{ADMIN}", json=body, timeout=TIMEOUT)
        answer.raise_for_status()
        ids.append(answer.json()["userId"])
        session.post(f"{api.url}{ADMIN}/{ids[-1]}/run-now", timeout=TIMEOUT).raise_for_status()
    return ids


def keep_due(conn) -> None:
    """Ask every persona no runner holds to run again (twice a second during a phase)."""
    conn.execute(
        "UPDATE personas.personas SET run_requested_at = now()"
        " WHERE run_requested_at IS NULL AND (lease_until IS NULL OR lease_until <= now())"
    )


# ---------------------------------------------------------------------------------------
# One phase: a runner, a window, the figures


@dataclass
class Sample:
    at: datetime
    wall: float
    cpu: float
    ticks: float
    tick_seconds: float
    devllm_offset: int


@dataclass
class Phase:
    concurrency: int
    think_ms: int
    seconds: float
    ticks: float
    failed: float
    cpu: float
    tick_wall: float
    model: float
    model_calls: int
    mcp: float
    mcp_calls: int

    def per_tick(self, value: float) -> float:
        return value / max(self.ticks, 1)


def metric_sum(text: str, prefix: str) -> float:
    """The sum of every sample line whose name (with labels) starts with `prefix`."""
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def sample(stack: Stack, runner: Process) -> Sample:
    text = requests.get(f"{runner.url}/metrics", timeout=TIMEOUT).text
    return Sample(
        at=datetime.now(UTC),
        wall=time.monotonic(),
        cpu=tree_cpu_seconds(runner.proc.pid, {}),
        ticks=metric_sum(text, "persona_ticks_total{"),
        tick_seconds=metric_sum(text, "persona_tick_duration_seconds_sum"),
        devllm_offset=(stack.log_dir / "devllm-access.log").stat().st_size,
    )


def failed_ticks(text: str) -> float:
    return metric_sum(text, 'persona_ticks_total{outcome="failed"}') + metric_sum(
        text, 'persona_ticks_total{outcome="timeout"}'
    )


def model_time(stack: Stack, start: int, end: int) -> tuple[float, int]:
    """Seconds devllm spent answering Messages calls logged between two offsets, and how many."""
    with open(stack.log_dir / "devllm-access.log", "rb") as log:
        log.seek(start)
        lines = log.read(end - start).decode().splitlines()
    took = [int(line.split()[2]) for line in lines if line.startswith("/v1/messages")]
    return sum(took) / 1e6, len(took)


def mcp_time(stack: Stack, start: datetime, end: datetime) -> tuple[float, int]:
    with stack.connect() as conn:
        total, calls = conn.execute(
            "SELECT coalesce(sum(latency_ms), 0), count(*) FROM personas.persona_actions"
            " WHERE created_at >= %s AND created_at < %s",
            (start, end),
        ).fetchone()
    return total / 1000, calls


def start_runner(
    stack: Stack, api: Process, devauth: Process, devmcp: Process, devllm: Process, n: int
) -> Process:
    env = {
        "MANA_API_URL": api.url,
        "MANA_AUTH_URL": devauth.url,
        "MANA_MCP_URL": devmcp.url,
        "MANA_SERVICE_KEY": stack.service_key,
        "PERSONA_SEED_SECRET": SEED_SECRET,
        "APP_ENV": "development",
        "RUNNER_ID": f"bench-runner-{n}",
        "RUNNER_DRIVER": "claude",
        "ANTHROPIC_API_KEY": "devllm-bench-key",
        "ANTHROPIC_BASE_URL": devllm.url,
        "PERSONA_CONCURRENCY": str(n),
        "RUNNER_TICK_INTERVAL_S": "0.2",
        "RUNNER_GRACE_S": "8",
    }
    cmd = [sys.executable, "-m", "persona_runner", "serve"]
    return stack.start_process(f"runner-{n}", cmd, env, free_port())


def warm_up(runner: Process, seconds: float, ticks: int) -> None:
    """At least `seconds`, and until the runner has ended `ticks` ticks (at most
    WARM_LIMIT_S more): with one tick per persona behind it, as for a runner that has been
    up a while, every persona's token is held and each worker's connections are open."""
    time.sleep(seconds)
    deadline = time.monotonic() + WARM_LIMIT_S
    while time.monotonic() < deadline:
        text = requests.get(f"{runner.url}/metrics", timeout=TIMEOUT).text
        if metric_sum(text, "persona_ticks_total{") >= ticks:
            return
        time.sleep(0.5)


def run_phase(
    stack: Stack,
    processes: tuple[Process, ...],
    n: int,
    think_ms: int,
    args: argparse.Namespace,
    warm_ticks: int = 0,
) -> Phase:
    api, devauth, devmcp, devllm = processes
    requests.delete(f"{devllm.url}/dev/faults", timeout=TIMEOUT).raise_for_status()
    # devllm takes at most 1000 stalls a request: enough for every model call of a phase.
    for _ in range(THINK_BATCHES if think_ms else 0):
        body = {"delayMs": think_ms, "times": 1000}
        requests.post(f"{devllm.url}/dev/faults", json=body, timeout=TIMEOUT).raise_for_status()
    runner = start_runner(stack, api, devauth, devmcp, devllm, n)
    try:
        warm_up(runner, args.warmup, warm_ticks)
        before = sample(stack, runner)
        failed_before = failed_ticks(requests.get(f"{runner.url}/metrics", timeout=TIMEOUT).text)
        time.sleep(args.window)
        after = sample(stack, runner)
        failed = failed_ticks(requests.get(f"{runner.url}/metrics", timeout=TIMEOUT).text) - failed_before
    finally:
        runner.stop()
        stack.processes.remove(runner)
    model, model_calls = model_time(stack, before.devllm_offset, after.devllm_offset)
    mcp, mcp_calls = mcp_time(stack, before.at, after.at)
    return Phase(
        concurrency=n,
        think_ms=think_ms,
        seconds=after.wall - before.wall,
        ticks=after.ticks - before.ticks,
        failed=failed,
        cpu=after.cpu - before.cpu,
        tick_wall=after.tick_seconds - before.tick_seconds,
        model=model,
        model_calls=model_calls,
        mcp=mcp,
        mcp_calls=mcp_calls,
    )


# ---------------------------------------------------------------------------------------
# The report


def print_overhead(phase: Phase) -> None:
    wall, model, mcp = (phase.per_tick(x) * 1000 for x in (phase.tick_wall, phase.model, phase.mcp))
    cpu = phase.per_tick(phase.cpu) * 1000
    outside = wall - model - mcp
    print(f"ticks in {phase.seconds:.0f} s      {phase.ticks:.0f} ({phase.failed:.0f} failed or timed out)")
    print(
        f"per tick           {phase.model_calls / max(phase.ticks, 1):.1f} model calls,"
        f" {phase.mcp_calls / max(phase.ticks, 1):.1f} MCP tool calls"
    )
    print(f"tick wall time     {wall:7.1f} ms   (the runner's persona_tick_duration_seconds)")
    print(f"  inside devllm    {model:7.1f} ms   (devllm's request time, its access log)")
    print(f"  inside MCP tools {mcp:7.1f} ms   (latency_ms on the tick's action rows)")
    print(f"  outside both     {outside:7.1f} ms   = {outside / max(model + mcp, 1e-9):.2f}x the time inside")
    met = "met" if outside <= OVERHEAD_GOAL_MS else "not met"
    print(f"  goal             {OVERHEAD_GOAL_MS:7.1f} ms   outside both at concurrency 2: {met}")
    print(f"runner CPU         {cpu:7.1f} ms per tick = {cpu / max(model + mcp, 1e-9):.2f}x the time inside")
    print(f"runner CPU         {phase.cpu / phase.seconds:.2f} cores over the window")


def print_throughput(phases: list[Phase]) -> None:
    print(
        f"{'concurrency':>11} {'ticks/min':>10} {'mean tick':>10} {'ideal/min':>10} {'of ideal':>9}"
        f" {'runner cpu':>10} {'failed':>7}"
    )
    for p in phases:
        per_minute = p.ticks * 60 / p.seconds
        mean = p.per_tick(p.tick_wall)
        ideal = p.concurrency * 60 / mean if mean else 0.0
        print(
            f"{p.concurrency:>11} {per_minute:>10.0f} {mean * 1000:>8.0f}ms {ideal:>10.0f}"
            f" {per_minute / ideal if ideal else 0:>9.2f} {p.cpu / p.seconds:>6.2f} cores {p.failed:>7.0f}"
        )


def main() -> int:
    args = bench_args(__doc__, runner_options, personas=48)
    with bench("the runner service against devllm and devmcp", args) as stack:
        devauth = stack.start_devauth()
        api = stack.start_api(args, auth_url=devauth.url)
        devmcp, devllm = start_standins(stack, devauth)
        token = mint_admin_token(devauth)
        started = time.monotonic()
        register_personas(api, token, args.personas)
        print(
            f"{args.personas} personas registered and asked to run now in {time.monotonic() - started:.1f} s"
        )
        processes = (api, devauth, devmcp, devllm)
        with stack.connect(autocommit=True) as conn, every(0.5, lambda: keep_due(conn)):
            section("1. overhead per tick: concurrency 2, devllm answering at once")
            print_overhead(run_phase(stack, processes, 2, 0, args, warm_ticks=args.personas))
            if args.overhead_only:
                return 0
            section(f"2. throughput: devllm thinks {args.think_ms} ms per model call")
            phases = []
            for n in args.concurrency:
                phases.append(run_phase(stack, processes, n, args.think_ms, args))
                print(
                    f"concurrency {n}: {phases[-1].ticks:.0f} ticks in {phases[-1].seconds:.0f} s", flush=True
                )
            print()
            print_throughput(phases)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (1 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
