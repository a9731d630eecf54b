"""Rows arranged straight in the database, for tests that need a given state."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from personas.transcripts import pack

# The paging parameters of a list query that asks for the whole list.
UNPAGED = {"after_at": None, "after_id": None, "limit": None}


def insert_row(db: psycopg.Connection, table: str, **columns: object) -> None:
    """One row of a personas table; a column given as None takes its default (so a
    factory also serves tests of the migrations before the column existed)."""
    given = {name: value for name, value in columns.items() if value is not None}
    statement = sql.SQL("INSERT INTO personas.{} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, given)),
        sql.SQL(", ").join(map(sql.Placeholder, given)),
    )
    db.execute(statement, given)


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
    insert_row(
        db,
        "personas",
        user_id=user_id,
        email=email or f"{user_id}@mana.test",
        name=name,
        archetype=archetype,
        system_prompt="A test persona who uses the product daily.",
        module_mix=Jsonb({"todo": 3, "calendar": 1}),
        tick_cadence=cadence,
        last_active_at=last_active,
        created_at=created_at,
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
    insert_row(
        db,
        "persona_feedback",
        persona_id=persona_id,
        id=feedback_id or f"{tick}-{module}",
        tick_id=tick,
        module=module,
        rating=rating,
        notes=notes,
        created_at=created_at,
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
    insert_row(
        db,
        "persona_actions",
        persona_id=persona_id,
        id=key,
        tick_id=tick,
        tool_name=tool,
        result="error" if error else "ok",
        error_message=error,
        latency_ms=latency_ms,
        created_at=created_at,
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
    product_version: str | None = None,
    **columns: object,
) -> str:
    """One tick row as the runner would leave it, by runner-test unless `runner_id` says
    otherwise, against product `mana` at `product_version` if given; `columns` sets any
    other column (error, space_id, driver, input_tokens, cost_usd...). A finished one ends
    a minute after it started unless told, and a failure names its step (`driver` unless told)."""
    if state in ("failed", "timeout") and step is None:
        step = "timeout" if state == "timeout" else "driver"
    if state != "running":
        started_at = started_at or datetime.now(UTC)
        finished_at = finished_at or started_at + timedelta(minutes=1)
    columns.setdefault("runner_id", "runner-test")
    insert_row(
        db,
        "persona_ticks",
        persona_id=persona_id,
        tick_id=tick_id,
        state=state,
        step=step,
        started_at=started_at,
        finished_at=finished_at,
        product_name=None if product_version is None else "mana",
        product_version=product_version,
        **columns,
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
    insert_row(
        db,
        "persona_transcripts",
        persona_id=persona_id,
        tick_id=tick_id,
        digest=packed.digest,
        events=packed.events,
        raw_bytes=packed.raw_bytes,
        created_at=created_at,
    )
