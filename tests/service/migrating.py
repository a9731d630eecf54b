"""Databases part-way through the migrations, for the tests of one migration: a database
up to just before it, and the ways back an operator takes (every migration from one on,
newest first, or that one alone)."""

from __future__ import annotations

from yoyo import get_backend, read_migrations

from devstack.postgres import create_database
from personas.migrate import MIGRATIONS_DIR, yoyo_url


def migrated_before(server_url: str, name: str, migration_id: str) -> str:
    """A new database `name` with every migration before `migration_id` applied."""
    url = create_database(server_url, name)
    backend = get_backend(yoyo_url(url))
    earlier = read_migrations(str(MIGRATIONS_DIR)).filter(lambda m: m.id < migration_id)
    with backend.lock():
        backend.apply_migrations(backend.to_apply(earlier))
    return url


def roll_back_from(url: str, first: str) -> list[str]:
    """Roll back every migration from `first` on, newest first; their ids, oldest first
    (what applying again will apply)."""
    backend = get_backend(yoyo_url(url))
    newer = backend.to_rollback(read_migrations(str(MIGRATIONS_DIR)).filter(lambda m: m.id >= first))
    with backend.lock():
        backend.rollback_migrations(newer)
    return [m.id for m in reversed(newer)]


def roll_back_only(url: str, migration_id: str) -> None:
    """Roll back `migration_id` alone; the migrations after it stay applied."""
    backend = get_backend(yoyo_url(url))
    one = read_migrations(str(MIGRATIONS_DIR)).filter(lambda m: m.id == migration_id)
    with backend.lock():
        backend.rollback_migrations(one)
