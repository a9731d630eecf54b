"""/health and the /dev switches (injected model errors); never part of the Messages API."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from devllm.errors import ApiError
from devllm.faults import STATUSES

bp = Blueprint("dev", __name__)


@bp.get("/health")
def health() -> Response:
    return jsonify(ok=True, service="devllm", standIn=True)


@bp.post("/dev/faults")
def add_fault() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object: {status, times}.")
    status, times = body.get("status"), body.get("times", 1)
    if status not in STATUSES or isinstance(status, bool):
        raise ApiError(400, f"status: must be one of {', '.join(map(str, STATUSES))}")
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= 1000:
        raise ApiError(400, "times: must be a whole number from 1 to 1000")
    current_app.extensions["devllm.faults"].add(status, times)
    return Response(status=204)


@bp.delete("/dev/faults")
def clear_faults() -> Response:
    current_app.extensions["devllm.faults"].clear()
    return Response(status=204)
