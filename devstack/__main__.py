"""The whole local stack in one command: PostgreSQL, migrations, the API; until Ctrl-C.

`python -m devstack` (the README's first command runs it through scripts/dev.sh).
With DATABASE_URL set it uses that database instead of starting its own.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from devstack.postgres import LocalPostgres, PostgresUnavailable, create_database
from devstack.processes import ROOT, Process, gunicorn_cmd

LOG_DIR = ROOT / ".local"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "3060")),
        help="port of the personas API (default 3060)",
    )
    return parser.parse_args()


def start_database(stack: list) -> str:
    if os.environ.get("DATABASE_URL"):
        print("database: using DATABASE_URL")
        return os.environ["DATABASE_URL"]
    server = LocalPostgres()
    server.start()
    stack.append(server.destroy)
    print(f"database: local PostgreSQL on 127.0.0.1:{server.port} (throwaway, removed on exit)")
    return create_database(server.url, "personas")


def main() -> int:
    args = parse_args()
    LOG_DIR.mkdir(exist_ok=True)
    cleanup: list = []
    try:
        database_url = start_database(cleanup)
        from personas.migrate import apply

        applied = apply(database_url)
        print(f"migrations: {len(applied)} applied")
        service_key = os.environ.get("MANA_SERVICE_KEY") or f"dev-{secrets.token_urlsafe(18)}"
        env = {"DATABASE_URL": database_url, "MANA_SERVICE_KEY": service_key, "APP_ENV": "development"}
        web = Process(
            "web",
            gunicorn_cmd("app:app", args.port, workers=2, threads=4),
            env,
            args.port,
            log_path=LOG_DIR / "web.log",
        )
        cleanup.append(web.stop)
        web.wait_ready()
        print()
        print(f"personas API   {web.url}   (log: {Path(web.log_path).relative_to(ROOT)})")
        print(f"service key    {service_key}")
        print(f"try            curl -H 'X-Service-Key: {service_key}' {web.url}/api/v1/personas/internal/due")
        print("\nRunning; Ctrl-C stops everything started here.")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(p.proc.poll() is None for p in (web,)):
            time.sleep(1)
        print("a process exited; stopping", file=sys.stderr)
        return 1
    except PostgresUnavailable as exc:
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
