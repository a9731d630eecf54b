"""/api/v1/personas/internal: what runners call, gated by the service key."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from personas import ticks
from personas.auth import check_service_key, require_service_key
from personas.db import get_db
from personas.errors import Conflict, NotFound
from personas.idempotency import action_key, feedback_key
from personas.metrics import ROWS_WRITTEN
from personas.paging import PageKey
from personas.queries import queries
from personas.streaming import ListStream
from personas.validation import (
    ActionBatch,
    ClaimHeartbeat,
    ClaimRelease,
    ClaimRequest,
    DuePage,
    FeedbackBatch,
    parse_body,
    parse_query,
    persona_id,
)

bp = Blueprint("internal", __name__, url_prefix="/api/v1/personas/internal")
# Nested once, at import, as the admin blueprint nests insights.
bp.register_blueprint(ticks.bp)


@bp.before_request
@require_service_key
def gate() -> None:
    """Every internal route sits behind the service key."""


@bp.before_app_request
def gate_unmatched_paths() -> None:
    """A path under this prefix that matches no route (or not with this method) needs the
    key too: without one it is a 401 like any route, so probing cannot list the routes;
    with one it goes on to the usual 404 or 405."""
    prefix = bp.url_prefix or ""
    if request.url_rule is None and (request.path == prefix or request.path.startswith(prefix + "/")):
        check_service_key()


CLOCK_FIELDS = ("server_time", "lease_until", "budget_resets_at", "budget_spent_usd")


def runner_rows(rows: list[dict]) -> list[dict]:
    """The persona fields of each row (a row without a persona only carries the clock)."""
    return [shaped for shaped in map(runner_row, rows) if shaped is not None]


def runner_row(row: dict) -> dict | None:
    """The persona fields of a due row; None for the row that only carries the clock."""
    if not row["userId"]:
        return None
    return {k: v for k, v in row.items() if k not in CLOCK_FIELDS}


DUE_STREAM = ListStream(
    "due",
    "personas",
    page_key=lambda row: PageKey(row["lastActiveAt"], row["userId"]),
    shape=runner_row,
    tail=lambda first: {"serverTime": first["server_time"]},
)


@bp.get("/due")
def due() -> Response:
    # Rows fetched in binary and serialised by orjson: measured faster than having
    # PostgreSQL build a multi-megabyte JSON document (BENCHMARKS.md). Streamed, so a
    # worker's memory does not grow with the fleet; the query always yields a row.
    page = parse_query(DuePage)
    return DUE_STREAM.respond(
        queries.internal.due_personas,
        limit=page.limit,
        now=None,
        **page.after_params(),
    )


@bp.post("/claims")
def claim() -> Response:
    """Lease due personas to one runner; however many claim at once, none is handed out twice."""
    body = parse_body(ClaimRequest)
    budget = current_app.config["PERSONAS"].fleet_daily_budget_usd
    with get_db().connection() as conn:
        queries.internal.sweep_expired_leases(conn)
        rows = queries.internal.claim_personas(
            conn,
            runner_id=body.runnerId,
            limit=body.limit,
            lease_seconds=body.leaseSeconds,
            budget_usd=budget,
        )
    clock = rows[0]
    answer = {
        "personas": runner_rows(rows),
        "leaseUntil": clock["lease_until"],
        "serverTime": clock["server_time"],
    }
    if budget is not None:
        answer["budget"] = {
            "limitUsd": budget,
            "spentUsd": clock["budget_spent_usd"],
            "resetsAt": clock["budget_resets_at"],
        }
    return jsonify(answer)


@bp.post("/claims/<raw_id>/heartbeat")
def heartbeat(raw_id: str) -> Response:
    """Extend this runner's live lease while it still drives the persona; a lapsed lease
    stays lapsed (the persona may be another runner's by now)."""
    pid = persona_id(raw_id)
    body = parse_body(ClaimHeartbeat)
    with get_db().connection() as conn:
        row = queries.internal.extend_claim(
            conn, persona_id=pid, runner_id=body.runnerId, lease_seconds=body.leaseSeconds
        )
    if row is None:
        raise NotFound("No persona with that id.")
    if row["extended_until"] is not None:
        return jsonify(leaseUntil=row["extended_until"])
    if not row["live"]:
        raise NotFound("This persona has no live lease.")
    raise Conflict("Another runner holds this persona's lease.", leaseUntil=row["lease_until"])


@bp.delete("/claims/<raw_id>")
def release_claim(raw_id: str) -> Response:
    """End this runner's lease early, so the persona can be claimed again before it lapses."""
    runner_id = parse_query(ClaimRelease).runnerId
    pid = persona_id(raw_id)
    with get_db().connection() as conn:
        row = queries.internal.release_claim(conn, persona_id=pid, runner_id=runner_id)
    if row is None:
        raise NotFound("No persona with that id.")
    if row["released"]:
        return Response(status=204)
    if not row["live"]:
        raise NotFound("This persona has no live lease.")
    raise Conflict("Another runner holds this persona's lease.", leaseUntil=row["lease_until"])


def written(kind: str, rows: int, new: int) -> Response:
    ROWS_WRITTEN.labels(kind).inc(new)
    return jsonify(ok=True, written=rows, new=new)


@bp.post("/<raw_id>/actions")
def append_actions(raw_id: str) -> Response:
    pid = persona_id(raw_id)
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
    # One transaction: mark the persona active (locking its row; 404 if there is none),
    # then insert the batch, of which rows already stored are skipped.
    with get_db().connection() as conn, conn.transaction():
        if not queries.internal.mark_active(conn, persona_id=pid):
            raise NotFound("No persona with that id.")
        new = queries.internal.insert_actions(conn, persona_id=pid, **params)
    return written("actions", len(rows), new)


@bp.post("/<raw_id>/feedback")
def append_feedback(raw_id: str) -> Response:
    pid = persona_id(raw_id)
    batch = parse_body(FeedbackBatch)
    rows = batch.feedback
    # The first rating of a module in a tick wins, within a batch as across retries.
    first: dict[str, object] = {}
    for row in rows:
        first.setdefault(feedback_key(row.tickId, row.module), row)
    params = {
        "ids": list(first),
        "tick_ids": [r.tickId for r in first.values()],
        "modules": [r.module for r in first.values()],
        "ratings": [r.rating for r in first.values()],
        "notes": [r.notes for r in first.values()],
    }
    # As for actions, in one transaction; feedback closes the tick, so the lease ends too.
    with get_db().connection() as conn, conn.transaction():
        if not queries.internal.mark_tick_over(conn, persona_id=pid, runner_id=batch.runnerId):
            raise NotFound("No persona with that id.")
        new = queries.internal.insert_feedback(conn, persona_id=pid, **params)
    return written("feedback", len(rows), new)
