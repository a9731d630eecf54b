"""Rows arranged straight in the database, for tests that need a given state."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb


def add_persona(
    db: psycopg.Connection,
    user_id: str,
    *,
    cadence: str = "daily",
    last_active: datetime | None = None,
    email: str | None = None,
    archetype: str = "solo-dev",
    created_at: datetime | None = None,
) -> str:
    db.execute(
        "INSERT INTO personas.personas (user_id, email, archetype, system_prompt, module_mix,"
        " tick_cadence, last_active_at, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()))",
        (
            user_id,
            email or f"{user_id}@mana.test",
            archetype,
            "A test persona who uses the product daily.",
            Jsonb({"todo": 3, "calendar": 1}),
            cadence,
            last_active,
            created_at,
        ),
    )
    return user_id


def count_rows(db: psycopg.Connection, table: str) -> int:
    assert table in {"personas", "persona_actions", "persona_feedback"}
    return db.execute(f"SELECT count(*) FROM personas.{table}").fetchone()[0]


def add_action(db: psycopg.Connection, persona_id: str, action_id: str, created_at: datetime) -> None:
    db.execute(
        "INSERT INTO personas.persona_actions (persona_id, id, tick_id, tool_name, result, created_at)"
        " VALUES (%s, %s, 'tick-old', 'todo.create', 'ok', %s)",
        (persona_id, action_id, created_at),
    )


def add_feedback(db: psycopg.Connection, persona_id: str, feedback_id: str, created_at: datetime) -> None:
    db.execute(
        "INSERT INTO personas.persona_feedback (persona_id, id, tick_id, module, rating, created_at)"
        " VALUES (%s, %s, 'tick-old', 'todo', 3, %s)",
        (persona_id, feedback_id, created_at),
    )


def set_lease(db: psycopg.Connection, persona_id: str, runner: str | None, until: datetime | None) -> None:
    db.execute(
        "UPDATE personas.personas SET lease_runner = %s, lease_until = %s WHERE user_id = %s",
        (runner, until, persona_id),
    )


def lease_of(db: psycopg.Connection, persona_id: str) -> tuple[str | None, datetime | None]:
    """(runner, until) of the persona's lease, live or not; (None, None) when it has none."""
    row = db.execute(
        "SELECT lease_runner, lease_until FROM personas.personas WHERE user_id = %s", (persona_id,)
    ).fetchone()
    return row[0], row[1]
