"""Rows arranged straight in the database, for tests that need a given state."""

from __future__ import annotations

import itertools
import json
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from personas.transcripts import pack

# The paging parameters of a list query that asks for the whole list.
UNPAGED = {"after_at": None, "after_id": None, "limit": None}


def add_persona(
    db: psycopg.Connection,
    user_id: str,
    *,
    cadence: str = "daily",
    last_active: datetime | None = None,
    email: str | None = None,
    archetype: str = "solo-dev",
    created_at: datetime | None = None,
    name: str | None = None,
) -> str:
    db.execute(
        "INSERT INTO personas.personas (user_id, email, name, archetype, system_prompt, module_mix,"
        " tick_cadence, last_active_at, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()))",
        (
            user_id,
            email or f"{user_id}@mana.test",
            name,
            archetype,
            "A test persona who uses the product daily.",
            Jsonb({"todo": 3, "calendar": 1}),
            cadence,
            last_active,
            created_at,
        ),
    )
    return user_id


def copy_rows(db: psycopg.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Many rows written by SQL in one statement (COPY), as an operator's backfill would:
    the rollup triggers fire once for the whole batch, not once a row."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with db.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def count_rows(db: psycopg.Connection, table: str) -> int:
    assert table in {"personas", "persona_actions", "persona_feedback"}
    return db.execute(f"SELECT count(*) FROM personas.{table}").fetchone()[0]


def persona_ids(db: psycopg.Connection) -> dict[str, str]:
    """email -> user id of every personas row."""
    return dict(db.execute("SELECT email, user_id FROM personas.personas").fetchall())


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


_SEQUENCE = itertools.count()


def add_rating(
    db: psycopg.Connection,
    persona_id: str,
    module: str,
    rating: int,
    created_at: datetime,
    *,
    notes: str | None = None,
    tick_id: str | None = None,
    feedback_id: str | None = None,
) -> str:
    """One rating at a given moment; the tick id, and the row key unless given, are made
    unique. Returns the tick id."""
    tick = tick_id or f"tick-{next(_SEQUENCE)}"
    db.execute(
        "INSERT INTO personas.persona_feedback (persona_id, id, tick_id, module, rating, notes, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (persona_id, feedback_id or f"{tick}-{module}", tick, module, rating, notes, created_at),
    )
    return tick


def add_action(
    db: psycopg.Connection,
    persona_id: str,
    created_at: datetime,
    *,
    tool: str = "todo.create",
    error: str | None = None,
    latency_ms: int = 120,
    action_id: str | None = None,
    tick_id: str | None = None,
) -> str:
    """One tool call: ok, or failed with `error` as its message; the tick id and the row
    key, unless given, are made unique. Returns the row key."""
    tick = tick_id or f"tick-{next(_SEQUENCE)}"
    key = action_id or f"{tick}-0-{tool}"
    db.execute(
        "INSERT INTO personas.persona_actions"
        " (persona_id, id, tick_id, tool_name, result, error_message, latency_ms, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (persona_id, key, tick, tool, "error" if error else "ok", error, latency_ms, created_at),
    )
    return key


def utf16_slice(text: str, units: int) -> str:
    """`text.slice(0, units)` as JavaScript counts: by UTF-16 units, so it may cut an emoji
    in half and leave a lone surrogate."""
    return text.encode("utf-16-le", "surrogatepass")[: 2 * units].decode("utf-16-le", "surrogatepass")


def as_javascript_sends(document: object) -> bytes:
    """The body `JSON.stringify(document)` puts on the wire: UTF-8, except that a lone
    surrogate goes out as a lower-case `\\uXXXX` escape."""
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "backslashreplace")


# Every table whose rows belong to one persona (by persona_id). A new one is one more name
# here, and every orphan check covers it.
PERSONA_CHILD_TABLES = (
    "persona_actions",
    "persona_feedback",
    "persona_activity",
    "persona_ticks",
    "persona_transcripts",
)


def orphan_counts(db: psycopg.Connection) -> dict[str, int]:
    """Rows of each persona child table whose persona is gone: every figure must be 0.
    A table the database's migrations have not created yet is left out."""
    counts = {}
    for table in PERSONA_CHILD_TABLES:
        if db.execute("SELECT to_regclass(%s)", (f"personas.{table}",)).fetchone()[0] is None:
            continue
        query = sql.SQL(
            "SELECT count(*) FROM personas.{} c"
            " WHERE NOT EXISTS (SELECT 1 FROM personas.personas p WHERE p.user_id = c.persona_id)"
        ).format(sql.Identifier(table))
        counts[table] = db.execute(query).fetchone()[0]
    return counts


def add_tick(
    db: psycopg.Connection,
    persona_id: str,
    tick_id: str,
    *,
    state: str = "ok",
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    step: str | None = None,
    error: str | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cost_usd: float = 0,
    runner_id: str = "runner-test",
    space_id: str | None = None,
    product_version: str | None = None,
    driver: str | None = None,
) -> str:
    """One tick row as the runner would leave it, in `space_id` if given, against product
    `mana` at `product_version` if given; a finished one ends a minute after it started
    unless told, and a failure names its step (`driver` unless told)."""
    if state in ("failed", "timeout") and step is None:
        step = "timeout" if state == "timeout" else "driver"
    db.execute(
        "INSERT INTO personas.persona_ticks (persona_id, tick_id, runner_id, state, step, error,"
        " started_at, finished_at, input_tokens, output_tokens, cost_usd, space_id, driver)"
        " VALUES (%(p)s, %(t)s, %(r)s, %(state)s, %(step)s, %(error)s, coalesce(%(started)s, now()),"
        " CASE WHEN %(state)s <> 'running'"
        "      THEN coalesce(%(finished)s, coalesce(%(started)s, now()) + interval '1 minute') END,"
        " %(inp)s, %(out)s, %(cost)s, %(space)s, %(driver)s)",
        {
            "p": persona_id,
            "t": tick_id,
            "r": runner_id,
            "state": state,
            "step": step,
            "error": error,
            "started": started_at,
            "finished": finished_at,
            "inp": input_tokens,
            "out": output_tokens,
            "cost": cost_usd,
            "space": space_id,
            "driver": driver,
        },
    )
    if product_version is not None:
        # Set apart, so the factory also serves tests of the migrations before 0021.
        db.execute(
            "UPDATE personas.persona_ticks SET product_name = 'mana', product_version = %s"
            " WHERE persona_id = %s AND tick_id = %s",
            (product_version, persona_id, tick_id),
        )
    return tick_id


def add_transcript(
    db: psycopg.Connection,
    persona_id: str,
    tick_id: str,
    events: list[dict],
    *,
    created_at: datetime | None = None,
) -> None:
    """A tick's transcript, stored as the service stores it (the tick must exist)."""
    packed = pack(events)
    db.execute(
        "INSERT INTO personas.persona_transcripts"
        " (persona_id, tick_id, digest, events, raw_bytes, created_at)"
        " VALUES (%s, %s, %s, %s, %s, coalesce(%s, now()))",
        (persona_id, tick_id, packed.digest, packed.events, packed.raw_bytes, created_at),
    )
