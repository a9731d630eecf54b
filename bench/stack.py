"""What every benchmark here shares: a throwaway PostgreSQL, the service under gunicorn as
the Procfile runs it, and the description of the machine and of the command.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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
        return self.start_process(name, cmd, env, port)

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

    def start_process(self, name: str, cmd: list[str], env: dict[str, str], port: int) -> Process:
        proc = Process(name, cmd, env, port, log_path=self.log_dir / f"{name}.log")
        self.processes.append(proc)
        proc.wait_ready(timeout=60)
        print(f"started {name:<8} {shlex.join(cmd[1:])}  (pid {proc.proc.pid})", flush=True)
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


def mint_admin_token(devauth: Process) -> str:
    response = requests.post(
        f"{devauth.url}/dev/token", json={"role": "admin", "expiresIn": 3600}, timeout=10
    )
    response.raise_for_status()
    return response.json()["token"]
