"""The bench harness, what every benchmark here uses: its options, a throwaway PostgreSQL
with the fleet seeded, the service under gunicorn as the Procfile runs it, the description
of the machine and of the command, and the ratio lines.

Benchmarks are not tests: they print figures and ratios, and a human reads them. Every
run prints the machine and the exact command first, so a figure pasted elsewhere can be
traced back to how it was made and rerun on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fleet import seed_personas  # noqa: E402
from devstack.postgres import LocalPostgres, create_database, free_port  # noqa: E402
from devstack.processes import Process, gunicorn_cmd  # noqa: E402
from personas.migrate import apply  # noqa: E402

INTERNAL = "/api/v1/personas/internal"
ADMIN = "/api/v1/personas/admin"


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """A script's parser: its docstring's first paragraph as the description, the rest as epilog."""
    summary, _, details = doc.partition("\n\n")
    return argparse.ArgumentParser(
        description=summary, epilog=details, formatter_class=argparse.RawDescriptionHelpFormatter
    )


# Options several benchmarks take: the type and help text here, the default in each.
COMMON_OPTIONS = {
    "personas": (int, "personas to seed"),
    "runs": (int, "timed runs of each side"),
    "rounds": (int, "rounds of each setting"),
    "duration": (float, "seconds of each phase"),
    "clients": (int, "concurrent clients"),
}


def bench_args(
    doc: str,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
    service: bool = True,
    **defaults: float,
) -> argparse.Namespace:
    """A benchmark's arguments: the common options it names with their defaults
    (`personas=10_000`), those `options` adds, then the service settings (unless the
    benchmark starts no service)."""
    parser = bench_parser(doc)
    for name, default in defaults.items():
        kind, text = COMMON_OPTIONS[name]
        parser.add_argument(f"--{name}", type=kind, default=default, help=f"{text} (default {default})")
    if options:
        options(parser)
    if service:
        add_service_flags(parser)
    return parser.parse_args()


def add_service_flags(parser: argparse.ArgumentParser) -> None:
    """The gunicorn and pool settings, named after the environment variables they set."""
    group = parser.add_argument_group("service settings (as the Procfile's environment)")
    group.add_argument("--workers", type=int, default=2, help="gunicorn workers, WEB_CONCURRENCY (default 2)")
    group.add_argument("--threads", type=int, default=4, help="threads per worker, WEB_THREADS (default 4)")
    group.add_argument("--db-pool-min", type=int, default=1, help="DB_POOL_MIN per worker (default 1)")
    group.add_argument("--db-pool-max", type=int, default=8, help="DB_POOL_MAX per worker (default 8)")
    group.add_argument(
        "--keep-logs",
        action="store_true",
        help="keep the gunicorn and PostgreSQL logs (path printed at the end)",
    )


# ---------------------------------------------------------------------------------------
# The machine and the command


def machine_lines() -> list[str]:
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    load1, load5, _ = os.getloadavg()
    return [
        f"cpus (nproc)    {len(os.sched_getaffinity(0))}",
        f"memory          {mem_kib / 1024 / 1024:.1f} GiB",
        f"cpu model       {cpu_model}",
        f"python          {platform.python_version()}",
        f"load average    {load1:.2f} (1 min), {load5:.2f} (5 min) at start",
        f"code            {git_revision()}",
    ]


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def print_header(title: str) -> None:
    print(f"== {title}")
    print(f"command         {shlex.join(sys.orig_argv)}")
    for line in machine_lines():
        print(line)
    sys.stdout.flush()


def section(title: str) -> None:
    print(f"\n-- {title}", flush=True)


def verdict(ratio: float, target: float, lower_is_better: bool = True) -> str:
    met = ratio <= target if lower_is_better else ratio >= target
    sign = "<=" if lower_is_better else ">="
    return f"target {sign} {target:g}: {'met' if met else 'NOT met'}"


def print_ratio(name: str, ratio: float, target: float, lower_is_better: bool = True) -> None:
    print(f"ratio {name:<9} {ratio:.2f}  ({verdict(ratio, target, lower_is_better=lower_is_better)})")


# ---------------------------------------------------------------------------------------
# The throwaway stack


@dataclass
class Stack:
    """One PostgreSQL cluster with a migrated database, and the processes started on it."""

    server: LocalPostgres
    url: str
    log_dir: Path
    service_key: str = field(default_factory=lambda: f"bench-{secrets.token_urlsafe(18)}")
    processes: list[Process] = field(default_factory=list)

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url, options="-c timezone=UTC", **kwargs)

    def postgres_version(self) -> str:
        with self.connect() as conn:
            return conn.execute("SHOW server_version").fetchone()[0]

    def postmaster_pid(self) -> int:
        return int((self.server.datadir / "postmaster.pid").read_text().split()[0])

    def start_api(
        self,
        args: argparse.Namespace,
        auth_url: str = "",
        name: str = "web",
        extra_env: dict[str, str] | None = None,
    ) -> Process:
        """The service under gunicorn with the Procfile's flags; the settings come from `args`."""
        port = free_port()
        env = {
            "DATABASE_URL": self.url,
            "MANA_SERVICE_KEY": self.service_key,
            "APP_ENV": "development",
            "WEB_CONCURRENCY": str(args.workers),
            "WEB_THREADS": str(args.threads),
            "DB_POOL_MIN": str(args.db_pool_min),
            "DB_POOL_MAX": str(args.db_pool_max),
            "PROMETHEUS_MULTIPROC_DIR": str(self.log_dir / f"metrics-{name}"),
        }
        if auth_url:
            env["MANA_AUTH_URL"] = auth_url
        env.update(extra_env or {})
        cmd = gunicorn_cmd("app:app", port, workers=args.workers, threads=args.threads)
        pool = f"DB_POOL_MIN={args.db_pool_min} DB_POOL_MAX={args.db_pool_max}"
        return self.start_process(name, cmd, env, port, note=pool)

    def start_devauth(self) -> Process:
        """The mana-auth stand-in, as the Procfile's devauth process; its `iss` is its own URL."""
        port = free_port()
        env = {
            "DATABASE_URL": self.url,
            "MANA_SERVICE_KEY": self.service_key,
            "MANA_AUTH_URL": f"http://127.0.0.1:{port}",
            "APP_ENV": "development",
        }
        return self.start_process(
            "devauth", gunicorn_cmd("devauth.app:app", port, workers=1, threads=8), env, port
        )

    def start_process(
        self, name: str, cmd: list[str], env: dict[str, str], port: int, note: str = ""
    ) -> Process:
        proc = Process(name, cmd, env, port, log_path=self.log_dir / f"{name}.log")
        self.processes.append(proc)
        proc.wait_ready(timeout=60)
        print(
            f"started {name:<8} {shlex.join(cmd[1:])}  (pid {proc.proc.pid}{', ' if note else ''}{note})",
            flush=True,
        )
        return proc


@contextmanager
def throwaway_stack(keep_logs: bool = False) -> Iterator[Stack]:
    """PostgreSQL in a temporary directory, a database with every migration applied; all
    removed on exit (the logs too, unless `keep_logs`)."""
    log_dir = Path(tempfile.mkdtemp(prefix="personas-bench-"))
    server = LocalPostgres()
    server.start()
    stack = None
    try:
        server.wait_ready()
        url = create_database(server.url, "personas_bench")
        apply(url)
        stack = Stack(server=server, url=url, log_dir=log_dir)
        print(
            f"postgresql      {stack.postgres_version()} (throwaway cluster, fsync off, as the tests run it)"
        )
        yield stack
    finally:
        for proc in reversed(stack.processes if stack else []):
            proc.stop()
        if keep_logs:
            shutil.copy(server.logfile, log_dir / "postgresql.log")
        server.destroy()
        if keep_logs:
            print(f"\nlogs kept in {log_dir}")
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


@contextmanager
def bench(title: str, args: argparse.Namespace) -> Iterator[Stack]:
    """The header, then a throwaway stack for the benchmark's body."""
    print_header(title)
    with throwaway_stack(getattr(args, "keep_logs", False)) as stack:
        yield stack


def seed_fleet(stack: Stack, personas: int, due_fraction: float, **options) -> int:
    """`personas` personas as bench/fleet.py seeds them, and a line saying so; how many are due."""
    start = time.perf_counter()
    with stack.connect() as conn:
        due = seed_personas(conn, personas, due_fraction, **options)
        table_mb = conn.execute("SELECT pg_total_relation_size('personas.personas') / 1e6").fetchone()[0]
    print(
        f"seeded          {personas} personas, {due} due, table {table_mb:.1f} MB "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return due


@contextmanager
def every(seconds: float, step: Callable[[], None]) -> Iterator[None]:
    """Call `step` in a thread, at once and then every `seconds`, while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        step()
        while not stop.wait(seconds):
            step()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def mint_admin_token(devauth: Process) -> str:
    response = requests.post(
        f"{devauth.url}/dev/token", json={"role": "admin", "expiresIn": 3600}, timeout=10
    )
    response.raise_for_status()
    return response.json()["token"]
