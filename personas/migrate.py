"""Apply the yoyo migrations in migrations/ to DATABASE_URL (the Procfile's `release`).

Safe to run twice: yoyo records what it applied and takes a lock while applying.
"""

from __future__ import annotations

import sys
from pathlib import Path

from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
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
    """Apply every pending migration; return the ids applied."""
    backend = get_backend(yoyo_url(database_url))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def main() -> int:
    from config import Config, ConfigError

    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 2
    applied = apply(config.database_url)
    for mid in applied:
        print(f"applied {mid}")
    print(f"migrations: {len(applied)} applied, {len(migration_ids()) - len(applied)} already in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
