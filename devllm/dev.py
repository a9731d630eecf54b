"""/health and the /dev switches (injected model errors); never part of the Messages API."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from devllm.errors import ApiError
from devllm.faults import STATUSES

bp = Blueprint("dev", __name__)
MAX_DELAY_MS = 600_000


@bp.get("/health")
def health() -> Response:
    return jsonify(ok=True, service="devllm", standIn=True)


@bp.post("/dev/faults")
def add_fault() -> Response:
    """`{"status": 429|500|529, "times"}`: the next calls answer that error;
    `{"badRatings": true, "times"}`: the next forced ratings break their schema;
    `{"delayMs": 1..600000, "times"}`: the next calls stall that long first."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(
            400, "The body must be a JSON object: {status, times}, {badRatings, times} or {delayMs, times}."
        )
    status, times = body.get("status"), body.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= 1000:
        raise ApiError(400, "times: must be a whole number from 1 to 1000")
    faults = current_app.extensions["devllm.faults"]
    if "badRatings" in body and status is None:
        if body["badRatings"] is not True:
            raise ApiError(400, "badRatings: must be true")
        faults.add_bad_ratings(times)
        return Response(status=204)
    if "delayMs" in body and status is None:
        delay = body["delayMs"]
        if isinstance(delay, bool) or not isinstance(delay, int) or not 1 <= delay <= MAX_DELAY_MS:
            raise ApiError(400, f"delayMs: must be a whole number of milliseconds from 1 to {MAX_DELAY_MS}")
        faults.add_delay(delay, times)
        return Response(status=204)
    if status not in STATUSES or isinstance(status, bool):
        raise ApiError(400, f"status: must be one of {', '.join(map(str, STATUSES))}")
    faults.add(status, times)
    return Response(status=204)


@bp.delete("/dev/faults")
def clear_faults() -> Response:
    current_app.extensions["devllm.faults"].clear()
    return Response(status=204)
