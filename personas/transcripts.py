"""PUT /api/v1/personas/internal/<id>/ticks/<tickId>/transcript: what happened in a tick,
kept for an operator to read. Service key only (the internal blueprint's gate).

A transcript is written once per tick: the same events again change nothing, other
events for a tick that has some are a 409. It is stored as zlib of its JSON (see the
migration 0017 for why not PostgreSQL's own compression); `pack` and `unpack` are the
one home of that format.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import Any

import orjson
from flask import Blueprint, Response, jsonify

from apibase.limits import TRANSCRIPT_BYTES_MAX
from personas.db import get_db
from personas.errors import Conflict, NotFound
from personas.openapi import operation
from personas.queries import queries
from personas.response_shapes import TranscriptStored
from personas.validation import Transcript, parse_body, tick_id

# Registered under the internal blueprint, whose gate (the service key) it shares.
bp = Blueprint("transcripts", __name__)
# bench/transcripts.py: level 9 is no smaller than 6 on transcripts (within 0.5%).
ZLIB_LEVEL = 6


@dataclass(frozen=True)
class Packed:
    events: bytes  # zlib of the events' JSON, as sent (object keys in the runner's order)
    digest: bytes  # SHA-256 of the canonical JSON (keys sorted): what "the same body" means
    raw_bytes: int


def pack(events: list[dict[str, Any]]) -> Packed:
    raw = orjson.dumps(events)
    canonical = orjson.dumps(events, option=orjson.OPT_SORT_KEYS)
    return Packed(zlib.compress(raw, ZLIB_LEVEL), hashlib.sha256(canonical).digest(), len(raw))


def unpack(stored: bytes) -> list[dict[str, Any]]:
    return orjson.loads(zlib.decompress(stored))


@bp.put("/<persona:id>/ticks/<tickId>/transcript")
@operation(
    "Keep a tick's transcript (written once; the same events again change nothing).",
    ok=TranscriptStored,
    body=Transcript,
    errors=(400, 401, 404, 409, 413),
)
def store_transcript(id: str, tickId: str) -> Response:
    tid = tick_id(tickId)
    body = parse_body(Transcript, max_bytes=TRANSCRIPT_BYTES_MAX)
    packed = pack(body.model_dump(mode="json")["events"])
    # Under the persona's row lock, as every write of a tick: two uploads of one tick are
    # decided one after the other, the second seeing the first.
    with get_db().connection() as conn, conn.transaction():
        if queries.internal.lock_persona(conn, persona_id=id) is None:
            raise NotFound("No persona with that id.")
        if not queries.internal.tick_exists(conn, persona_id=id, tick_id=tid):
            raise NotFound("No tick with that id for this persona; report the tick first.")
        stored = queries.internal.store_transcript(
            conn,
            persona_id=id,
            tick_id=tid,
            digest=packed.digest,
            events=packed.events,
            raw_bytes=packed.raw_bytes,
        )
    if stored["digest"] != packed.digest:
        raise Conflict("This tick already has a different transcript; a transcript never changes.")
    return jsonify(ok=True, tickId=tid, events=len(body.events), new=stored["new"])
