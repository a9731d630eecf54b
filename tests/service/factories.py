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
