"""The whole local stack in one command, until Ctrl-C: PostgreSQL, migrations, the
mana-auth stand-in, the personas API, and the catalog seeded.

`python -m devstack` (the README's first command runs it through scripts/dev.sh).
With DATABASE_URL set it uses that database instead of starting its own.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import requests

from devstack.postgres import LocalPostgres, PostgresUnavailable, create_database
from devstack.processes import ROOT, Process, gunicorn_cmd

LOG_DIR = ROOT / ".local"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack", description="Run the personas service locally with everything it needs."
    )
    parser.add_argument("--port", type=int, default=3060, help="port of the personas API (default 3060)")
    parser.add_argument(
        "--auth-port", type=int, default=3001, help="port of the mana-auth stand-in (default 3001)"
    )
    parser.add_argument("--no-seed", action="store_true", help="do not seed the persona catalog")
    return parser.parse_args()


def start_database(cleanup: list[Callable[[], None]]) -> str:
    if os.environ.get("DATABASE_URL"):
        print("database   using DATABASE_URL")
        return os.environ["DATABASE_URL"]
    server = LocalPostgres()
    server.start()
    cleanup.append(server.destroy)
    print(f"database   local PostgreSQL on 127.0.0.1:{server.port} (throwaway, removed on exit)")
    return create_database(server.url, "personas")


def start(name: str, app: str, port: int, env: dict[str, str], cleanup: list) -> Process:
    proc = Process(
        name, gunicorn_cmd(app, port, workers=2, threads=4), env, port, log_path=LOG_DIR / f"{name}.log"
    )
    cleanup.append(proc.stop)
    return proc.wait_ready()


def seed(api: Process, token: str, env: dict[str, str]) -> None:
    cmd = [sys.executable, "scripts/seed.py", f"--api={api.url}", f"--jwt={token}"]
    result = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}, check=False)
    if result.returncode != 0:
        raise RuntimeError("seeding the catalog failed (see above)")


def main() -> int:
    args = parse_args()
    LOG_DIR.mkdir(exist_ok=True)
    cleanup: list[Callable[[], None]] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        database_url = start_database(cleanup)
        from personas.migrate import apply

        print(f"migrations {len(apply(database_url))} applied")
        service_key = os.environ.get("MANA_SERVICE_KEY") or f"dev-{secrets.token_urlsafe(18)}"
        auth_url = f"http://127.0.0.1:{args.auth_port}"
        env = {
            "DATABASE_URL": database_url,
            "MANA_SERVICE_KEY": service_key,
            "APP_ENV": "development",
            "MANA_AUTH_URL": auth_url,
            "MANA_API_URL": f"http://127.0.0.1:{args.port}",
        }
        devauth = start("devauth", "devauth.app:app", args.auth_port, env, cleanup)
        web = start("web", "app:app", args.port, env, cleanup)
        token = requests.post(
            f"{devauth.url}/dev/token", json={"role": "admin", "expiresIn": 86400}, timeout=10
        ).json()["token"]
        if not args.no_seed:
            seed(web, token, env)
        print(
            f"""
personas API     {web.url}          (log: .local/web.log)
mana-auth        {devauth.url}          (development stand-in; log: .local/devauth.log)
dashboard        {web.url}/dashboard#token={token}
service key      {service_key}
admin token      {token}
                 (valid 24 h; a new one: curl -X POST {devauth.url}/dev/token -d '{{"role":"admin"}}' \\
                  -H 'Content-Type: application/json')

one scripted tick, as a runner would drive every due persona:
  MANA_API_URL={web.url} MANA_AUTH_URL={devauth.url} MANA_SERVICE_KEY={service_key} \\
    .venv/bin/python -m persona_runner --once

Running; Ctrl-C stops everything started here.""",
            flush=True,
        )
        while all(p.proc.poll() is None for p in (web, devauth)):
            time.sleep(1)
        print("a process exited; stopping", file=sys.stderr)
        return 1
    except (PostgresUnavailable, RuntimeError, TimeoutError, requests.RequestException) as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        for stop in reversed(cleanup):
            stop()
        print("stopped")


if __name__ == "__main__":
    sys.exit(main())
