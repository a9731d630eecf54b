"""Apply the yoyo migrations in migrations/ to DATABASE_URL (the Procfile's `release`),
then the functions of sql/functions/ (the business rules the queries call).

Safe to run twice: yoyo records what it applied and takes a lock while applying, and
every function file is idempotent (`CREATE OR REPLACE`, or a `DROP ... IF EXISTS`
before the `CREATE` where a function's result type changes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
from yoyo import get_backend, read_migrations

from apibase.env import config_or_exit

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "migrations"
FUNCTIONS_DIR = ROOT / "sql" / "functions"
APPLY_COMMAND = "python -m personas.migrate"


def yoyo_url(database_url: str) -> str:
    """yoyo picks its driver from the URL scheme; psycopg 3 is `postgresql+psycopg`."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must look like postgresql://user@host:port/db")
    return f"postgresql+psycopg://{rest}" if scheme in {"postgres", "postgresql"} else database_url


def migration_ids() -> list[str]:
    return [m.id for m in read_migrations(str(MIGRATIONS_DIR))]


def apply(database_url: str) -> list[str]:
    """Apply every pending migration, then (re)create the functions; return the ids applied."""
    backend = get_backend(yoyo_url(database_url))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
        apply_functions(database_url)
    return [m.id for m in pending]


def apply_functions(database_url: str) -> None:
    """Run every file of sql/functions/ in one transaction: all the rules change together."""
    with psycopg.connect(database_url) as conn, conn.transaction():
        for path in sorted(FUNCTIONS_DIR.glob("*.sql")):
            conn.execute(path.read_text())


def main() -> int:
    from config import Config

    config = config_or_exit("migrate", Config.from_env)
    applied = apply(config.database_url)
    for mid in applied:
        print(f"applied {mid}")
    print(f"migrations: {len(applied)} applied, {len(migration_ids()) - len(applied)} already in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
