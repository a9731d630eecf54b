"""The retention job, `python -m personas.prune`, and the action rows it looks at."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

from tests.support.commands import run_module


def prune(
    database_url: str, *args: str, retention_days: str | None = None, **settings: str
) -> subprocess.CompletedProcess:
    env = {"DATABASE_URL": database_url, **settings}
    if retention_days is not None:
        env["ACTION_RETENTION_DAYS"] = retention_days
    return run_module("personas.prune", *args, env=env)


def pruned(database_url: str, *args: str, **settings: str) -> subprocess.CompletedProcess:
    """The retention job, which must succeed."""
    run = prune(database_url, *args, **settings)
    assert run.returncode == 0, run.stderr
    return run


def action_ids(db, before: datetime | None = None) -> set[str]:
    """The stored actions' ids; with `before`, only those of actions created before it."""
    query = "SELECT id FROM personas.persona_actions WHERE created_at < coalesce(%s, 'infinity'::timestamptz)"
    return {row[0] for row in db.execute(query, (before,))}


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
