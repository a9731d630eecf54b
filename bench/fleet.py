"""Synthetic personas and action rows, shaped like the real ones: 1-2 KB system prompts,
mixes of several modules, 64-hex input hashes, a few errors, ticks of 20 tool calls.

Persona ids are md5('persona-<n>') written as a UUID, so SQL (`md5('persona-' || n)::uuid`)
and Python (`persona_id(n)`) name the same personas without a lookup.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import psycopg

from scripts.catalog import ARCHETYPES as CATALOG_ARCHETYPES
from scripts.catalog import MODULES as CATALOG_MODULES

# The catalog's own spellings, so the benchmark's personas look like the fleet's.
ARCHETYPES = list(CATALOG_ARCHETYPES)
MODULES = list(CATALOG_MODULES)
TOOLS = [f"{module}.{verb}" for module in MODULES for verb in ("list", "create", "update")]
ACTIONS_PER_TICK = 20
# Stands for the tick id in a batch template: replaced by a fresh one in every batch.
TICK_MARK = b"@TICK@"

_OPENINGS = [
    "You are {name}, a {archetype} who has just started using Mana for everything.",
    "You play {name}, a {archetype}; Mana is your new home for plans, notes and messages.",
]
_SENTENCES = [
    "You check your calendar first thing in the morning and move at least one meeting.",
    "You keep a running list of small tasks and forget to tick half of them off.",
    "When a screen confuses you, you say so plainly and try the most obvious button.",
    "You write notes in short fragments, with the odd typo, and search for them later.",
    "You share a budget with your partner and argue, gently, about the categories.",
    "You are impatient with slow pages and will retry an action once before giving up.",
    "You prefer keyboard shortcuts and notice when one does something unexpected.",
    "You often switch between modules in the middle of a task and expect your place kept.",
    "You rate a module low when it loses your work, and say exactly what you lost.",
    "You invite a colleague to a shared space and check what they can see.",
    "You import a handful of contacts from a file and fix the ones that come out wrong.",
    "You set a habit for every weekday and expect a reminder that respects your time zone.",
    "You keep replies short, and you never make up features that are not on the screen.",
    "At the end of each session you rate the modules you used from one to five.",
]


def persona_id(n: int) -> str:
    return str(uuid.UUID(hex=hashlib.md5(f"persona-{n}".encode()).hexdigest()))


def system_prompt(rng: random.Random, name: str, archetype: str, chars: int | None = None) -> str:
    """Prose of 1,000 to 2,000 characters, as the catalog's handwritten prompts are (or
    of about `chars` characters)."""
    target = chars or rng.randint(1000, 2000)
    text = rng.choice(_OPENINGS).format(name=name, archetype=archetype)
    while len(text) < target:
        text += " " + rng.choice(_SENTENCES)
    return text[:target].rsplit(" ", 1)[0] + "."


def module_mix(rng: random.Random) -> str:
    chosen = rng.sample(MODULES, rng.randint(4, 9))
    return orjson.dumps({m: round(rng.uniform(0.1, 3.0), 2) for m in chosen}).decode()


def seed_personas(
    conn: psycopg.Connection,
    count: int,
    due_fraction: float,
    seed: int = 42,
    prompt_chars: int | None = None,
) -> int:
    """`count` personas; `due_fraction` of them due now (half never active, half idle 2-10
    days, cadence hourly or daily so the weekday never changes the count), the rest active
    in the last half hour; prompts of `prompt_chars` characters if given. Returns how many
    are due. Goes through COPY, which fires any trigger a migration adds, like the
    service's own writes."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    due = 0
    columns = "user_id, email, archetype, system_prompt, module_mix, tick_cadence, last_active_at, created_at"
    with conn.cursor() as cur, cur.copy(f"COPY personas.personas ({columns}) FROM STDIN") as copy:
        for n in range(count):
            archetype = ARCHETYPES[n % len(ARCHETYPES)]
            created = now - timedelta(days=30, seconds=n)
            if rng.random() < due_fraction:
                due += 1
                cadence = ("hourly", "daily")[n % 2]
                active = None if rng.random() < 0.5 else now - timedelta(days=rng.uniform(2, 10))
            else:
                cadence = ("hourly", "daily", "weekdays")[n % 3]
                active = now - timedelta(minutes=rng.uniform(0, 30))
            name = f"Bench Persona {n}"
            copy.write_row(
                (
                    persona_id(n),
                    f"bench-{n}@mana.test",
                    archetype,
                    system_prompt(rng, name, archetype, prompt_chars),
                    module_mix(rng),
                    cadence,
                    active,
                    created,
                )
            )
    conn.commit()
    vacuum_analyze(conn, "personas.personas")
    return due


def vacuum_analyze(conn: psycopg.Connection, table: str) -> None:
    """What autovacuum would soon do: visibility map and statistics up to date."""
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        conn.execute(f"VACUUM ANALYZE {table}")  # a constant from this module, never input
    finally:
        conn.autocommit = autocommit


def action_rows(count: int, seed: int = 7) -> list[dict]:
    """One batch of action rows as the runner posts them; every tickId holds TICK_MARK,
    to be replaced by a fresh tick per batch, and each 20 rows form one tick."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        failed = rng.random() < 0.05
        row = {
            "tickId": f"{TICK_MARK.decode()}-t{i // ACTIONS_PER_TICK}",
            "toolName": rng.choice(TOOLS),
            "result": "error" if failed else "ok",
            "inputHash": hashlib.sha256(f"{seed}-{i}".encode()).hexdigest(),
            "latencyMs": rng.randint(20, 2500),
        }
        if failed:
            row["errorMessage"] = "upstream answered 503 Service Unavailable; retried once, then gave up"
        rows.append(row)
    return rows


def batch_template(count: int) -> bytes:
    """The JSON body of a batch; `body.replace(TICK_MARK, tick)` makes it a fresh one."""
    return orjson.dumps({"actions": action_rows(count)})
