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


def action_ids(db) -> set[str]:
    return {row[0] for row in db.execute("SELECT id FROM personas.persona_actions")}


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
