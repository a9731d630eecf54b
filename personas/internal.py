"""/api/v1/personas/internal: what runners call, gated by the service key."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import psycopg
from flask import Blueprint, Response, current_app, jsonify

from config import Config
from personas import ticks, transcripts
from personas.auth import check_service_key, gate
from personas.db import apply_transaction_settings, get_db
from personas.errors import Conflict, NotFound
from personas.idempotency import action_key, feedback_key
from personas.metrics import ROWS_WRITTEN
from personas.openapi import operation
from personas.paging import PageKey
from personas.queries import queries
from personas.response_shapes import Claimed, DueList, LeaseExtended, Written
from personas.streaming import ListStream
from personas.validation import (
    ActionBatch,
    ClaimHeartbeat,
    ClaimRelease,
    ClaimRequest,
    DuePage,
    FeedbackBatch,
    FeedbackRow,
    parse_body,
    parse_query,
)

bp = Blueprint("internal", __name__, url_prefix="/api/v1/personas/internal")
# Nested once, at import, as the admin blueprint nests insights.
bp.register_blueprint(ticks.bp)
bp.register_blueprint(transcripts.bp)


gate(bp, check_service_key, "serviceKey")


DUE_STREAM = ListStream(
    "due",
    "personas",
    page_key=lambda row: PageKey(row["lastActiveAt"], row["userId"]),
    tail=lambda conn: {"serverTime": queries.internal.server_time(conn)},
)


@bp.get("/due")
@operation(
    "Personas due for a tick, never-active and oldest activity first; paged on request.",
    ok=DueList,
    query=DuePage,
    errors=(400, 401),
)
def due() -> Response:
    # Rows fetched in binary and serialised by orjson: measured faster than having
    # PostgreSQL build a multi-megabyte JSON document (BENCHMARKS.md). Streamed, so a
    # worker's memory does not grow with the fleet.
    return DUE_STREAM.respond(queries.internal.due_personas, parse_query(DuePage))


@bp.post("/claims")
@operation("Lease due personas to one runner.", ok=Claimed, body=ClaimRequest, errors=(400, 401, 413))
def claim() -> Response:
    """Lease due personas to one runner; however many claim at once, none is handed out twice."""
    body = parse_body(ClaimRequest)
    config = current_app.config["PERSONAS"]
    budget = config.fleet_daily_budget_usd
    # A cost-free claim still says where the budget stands, but is not held to it: it
    # leases as if there were none, so it reserves nothing and needs no turn.
    budgeted = budget is not None and not body.costFree
    with get_db().connection() as conn:
        # Lapsed leases first, so the room a budgeted claim holds counts their
        # reservations as ended; the hold commits the sweep with it.
        queries.internal.sweep_expired_leases(conn)
        queries.internal.close_stale_ticks(conn)
        hold = hold_budget(conn, config, body.limit) if budgeted else None
        # The claim's transaction: its start (now()) is the clock of the rule, the lease
        # and the budget's day.
        clock = queries.internal.claim_lease(conn, lease_seconds=body.leaseSeconds, budget_usd=budget)
        rows = queries.internal.claim_personas(
            conn,
            runner_id=body.runnerId,
            limit=body.limit,
            lease_until=clock["lease_until"],
            budgeted=budgeted,
            hold_id=hold and hold["hold_id"],
        )
        reserved = queries.internal.budget_reserved(conn) if budget is not None else None
    answer = {"personas": rows, "leaseUntil": clock["lease_until"], "serverTime": clock["server_time"]}
    if budget is not None:
        answer["budget"] = budget_answer(budget, clock, reserved)
    return jsonify(answer)


def hold_budget(conn: psycopg.Connection, config: Config, limit: int) -> dict | None:
    """A budgeted claim's turn: hold the room for up to `limit` personas, committed on its
    own before the claim, so claims take turns for this one statement only (none while
    they walk, lease and answer). None: the budget has no room."""
    hold = queries.internal.hold_budget.committed(
        conn,
        budget_usd=config.fleet_daily_budget_usd,
        estimate=config.fleet_tick_cost_estimate_usd,
        limit=limit,
    )
    apply_transaction_settings(conn, config)  # the claim's own transaction, behind a pooler too
    return hold


def budget_answer(budget: float, clock: dict, reserved: float) -> dict:
    """Where the budget stands after this claim: its own reservations included (the
    database's figure, read after the claim)."""
    return {
        "limitUsd": budget,
        "spentUsd": clock["budget_spent_usd"],
        "reservedUsd": reserved,
        "resetsAt": clock["budget_resets_at"],
    }


@bp.post("/claims/<persona:personaId>/heartbeat")
@operation(
    "Extend this runner's live lease while it drives the persona.",
    ok=LeaseExtended,
    body=ClaimHeartbeat,
    errors=(400, 401, 404, 409, 413),
)
def heartbeat(personaId: str) -> Response:
    """Extend this runner's live lease while it still drives the persona; a lapsed lease
    stays lapsed (the persona may be another runner's by now)."""
    body = parse_body(ClaimHeartbeat)
    with get_db().connection() as conn:
        row = queries.internal.extend_claim(
            conn, persona_id=personaId, runner_id=body.runnerId, lease_seconds=body.leaseSeconds
        )
    if row is not None and row["extended_until"] is not None:
        return jsonify(leaseUntil=row["extended_until"])
    lease_refused(row)


@bp.delete("/claims/<persona:personaId>")
@operation("End this runner's lease early.", query=ClaimRelease, errors=(400, 401, 404, 409), ok_status=204)
def release_claim(personaId: str) -> Response:
    """End this runner's lease early, so the persona can be claimed again before it lapses."""
    runner_id = parse_query(ClaimRelease).runnerId
    with get_db().connection() as conn:
        row = queries.internal.release_claim(conn, persona_id=personaId, runner_id=runner_id)
    if row is not None and row["released"]:
        return Response(status=204)
    lease_refused(row)


def lease_refused(row: dict | None) -> NoReturn:
    """Why this runner's heartbeat or release did nothing: no such persona, no live lease,
    or another runner's lease."""
    if row is None:
        raise NotFound("No persona with that id.")
    if not row["live"]:
        raise NotFound("This persona has no live lease.")
    raise Conflict("Another runner holds this persona's lease.", leaseUntil=row["lease_until"])


def append_rows(
    kind: str,
    sent: int,
    mark: Callable[[psycopg.Connection], bool],
    insert: Callable[[psycopg.Connection], int],
) -> Response:
    """A batch in one transaction: `mark` updates the persona's row first (locking it; a
    404 if there is none), then `insert` adds the rows, skipping those already stored."""
    with get_db().connection() as conn, conn.transaction():
        if not mark(conn):
            raise NotFound("No persona with that id.")
        new = insert(conn)
    ROWS_WRITTEN.labels(kind).inc(new)
    return jsonify(ok=True, written=sent, new=new)


@bp.post("/<persona:id>/actions")
@operation(
    "Append a tick's tool-call audit, idempotently.",
    ok=Written,
    body=ActionBatch,
    errors=(400, 401, 404, 413),
)
def append_actions(id: str) -> Response:
    rows = parse_body(ActionBatch).actions
    params = {
        "ids": [action_key(r.tickId, i, r.toolName) for i, r in enumerate(rows)],
        "tick_ids": [r.tickId for r in rows],
        "tool_names": [r.toolName for r in rows],
        "input_hashes": [r.inputHash for r in rows],
        "results": [r.result for r in rows],
        "error_messages": [r.errorMessage for r in rows],
        "latencies": [r.latencyMs for r in rows],
    }
    return append_rows(
        "actions",
        len(rows),
        mark=lambda conn: queries.internal.mark_active(conn, persona_id=id),
        insert=lambda conn: queries.internal.insert_actions(conn, persona_id=id, **params),
    )


@bp.post("/<persona:id>/feedback")
@operation(
    "Append a tick's module ratings, idempotently.",
    ok=Written,
    body=FeedbackBatch,
    errors=(400, 401, 404, 413),
)
def append_feedback(id: str) -> Response:
    batch = parse_body(FeedbackBatch)
    rows = batch.feedback
    # The first rating of a module in a tick wins, within a batch as across retries.
    first: dict[tuple[str, str], FeedbackRow] = {}
    for row in rows:
        first.setdefault((row.tickId, row.module), row)
    params = {
        "ids": [feedback_key(r.tickId, r.module) for r in first.values()],
        "tick_ids": [r.tickId for r in first.values()],
        "modules": [r.module for r in first.values()],
        "ratings": [r.rating for r in first.values()],
        "notes": [r.notes for r in first.values()],
    }
    # Feedback closes the tick, so marking the persona ends its lease too.
    return append_rows(
        "feedback",
        len(rows),
        mark=lambda conn: queries.internal.mark_tick_over(conn, persona_id=id, runner_id=batch.runnerId),
        insert=lambda conn: queries.internal.insert_feedback(conn, persona_id=id, **params),
    )
