"""/api/v1/personas/internal/<id>/ticks and /history: every run of a persona on record,
and the story so far that a runner hands its model. Service key only (the internal
blueprint's gate)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from personas.db import get_db
from personas.errors import Conflict, NotFound
from personas.openapi import operation
from personas.queries import queries
from personas.response_shapes import History, TickRecorded
from personas.validation import HistoryQuery, TickReport, parse_body, parse_query, tick_id

# Registered under the internal blueprint, whose gate (the service key) it shares.
bp = Blueprint("ticks", __name__)
# The story so far stays small whatever the tick did: the first calls and ratings of each.
HISTORY_TOOLS = 50
HISTORY_RATINGS = 100


def report_params(report: TickReport) -> dict[str, Any]:
    usage = report.usage
    return {
        "runner_id": report.runnerId,
        "state": report.state,
        "step": report.step,
        "error": report.error,
        "driver": report.driver,
        "model": report.model,
        "space_id": report.spaceId,
        "input_tokens": usage.inputTokens if usage else None,
        "output_tokens": usage.outputTokens if usage else None,
        "cache_read_tokens": usage.cacheReadTokens if usage else None,
        "cache_write_tokens": usage.cacheWriteTokens if usage else None,
        "cost_usd": report.costUsd,
        "trace_id": report.traceId,
        "product_name": report.product.name if report.product else None,
        "product_version": report.product.version if report.product else None,
    }


def shown_tick(row: dict[str, Any]) -> dict[str, Any]:
    """A tick as every answer shows it: `traceId` only when the runner reported one."""
    if row.get("traceId") is None:
        row.pop("traceId", None)
    return row


@bp.put("/<persona:id>/ticks/<tickId>")
@operation(
    "Record a tick's start or end, idempotently; a finished tick keeps its end.",
    ok=TickRecorded,
    body=TickReport,
    errors=(400, 401, 404, 409, 413),
)
def report_tick(id: str, tickId: str) -> Response:
    """Record a tick's start or end; retries change nothing, a finished tick keeps its end."""
    tid = tick_id(tickId)
    report = parse_body(TickReport)
    params = {"persona_id": id, "tick_id": tid, **report_params(report)}
    # One transaction under the persona's row lock: two reports of one tick (a retry, a
    # racing end) are decided one after the other, each seeing what the other wrote.
    with get_db().connection() as conn, conn.transaction():
        if queries.internal.lock_persona(conn, persona_id=id) is None:
            raise NotFound("No persona with that id.")
        stored = queries.internal.tick_as_stored(conn, **params)
        if not report.final:
            if stored is None:
                queries.internal.start_tick(conn, **params)
        elif stored is None or stored["state"] == "running":
            queries.internal.finish_tick(conn, **params)
            # The end of a run is the persona's activity, failed or not: it is next due at
            # its cadence, and a pending run-now is answered (no retry loop on failure).
            queries.internal.mark_tick_reported(conn, persona_id=id, runner_id=report.runnerId)
        elif stored["provisional"]:
            # Closed as abandoned while its runner was still at it: the real end replaces
            # it, so the cost it reports is spent today. The closing marked the activity
            # and ended the reservation already.
            queries.internal.finish_tick(conn, **params)
        elif stored["state"] != report.state or not stored["unchanged"]:
            raise Conflict(
                f"This tick already finished as {stored['state']}; a finished tick never changes.",
                state=stored["state"],
            )
        tick = queries.internal.tick_answer(conn, persona_id=id, tick_id=tid)
    return jsonify(tick=shown_tick(tick))


@bp.get("/<persona:id>/history")
@operation(
    "The story so far: the newest finished ticks, their tool calls and ratings.",
    ok=History,
    query=HistoryQuery,
    errors=(400, 401, 404),
)
def history(id: str) -> Response:
    """The persona's newest finished ticks, with their tool calls and ratings."""
    ticks = parse_query(HistoryQuery).ticks
    with get_db().connection() as conn:
        row = queries.internal.persona_history(
            conn, persona_id=id, ticks=ticks, tools=HISTORY_TOOLS, ratings=HISTORY_RATINGS
        )
    if row is None:
        raise NotFound("No persona with that id.")
    return jsonify(ticks=row["ticks"])
