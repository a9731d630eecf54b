"""/health and the /dev switches (injected model errors and odd answers); never part of
the Messages API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from devllm.errors import ModelApiError
from devllm.faults import ONCE_SWITCHES, STATUSES, STOP_REASONS, Faults
from devllm.messages import api_key

bp = Blueprint("dev", __name__)
MAX_DELAY_MS = 600_000
MAX_RETRY_AFTER = 86_400
MAX_ADVANCE_S = 86_400
SHAPES = (
    "{status, retryAfter?, times}, {badRatings, times}, {malformedArguments, times}, "
    "{noToolCall, times}, {noUsage, times}, {namedToolChoice: false}, {delayMs, times} or "
    "{stopReason, times}"
)


@bp.get("/health")
def health() -> Response:
    return jsonify(ok=True, service="devllm", standIn=True)


@bp.post("/dev/faults")
def add_fault() -> Response:
    """`{"status": 429|500|529, "retryAfter"?: seconds, "times"}`: the next calls answer
    that error; `{"badRatings": true, "times"}`: the next ratings break their schema;
    `{"noToolCall": true, "times"}`: the next ratings answers are text, without the call
    (either face); `{"malformedArguments": true, "times"}`: the next Chat Completions
    answers with tool calls carry arguments that are not JSON; `{"noUsage": true, "times"}`:
    the next Chat Completions answers carry no usage; `{"namedToolChoice": false}`: until
    cleared, a named tool_choice on the Chat Completions face is refused 400;
    `{"delayMs": 1..600000, "times"}`: the next calls stall that long first;
    `{"stopReason": "refusal"|"max_tokens"|"model_context_window_exceeded", "times"}`:
    the next answers end that way."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ModelApiError(400, f"The body must be a JSON object: {SHAPES}.")
    times = whole(body.get("times", 1), "times", 1, 1000)
    faults: Faults = current_app.extensions["devllm.faults"]
    if body.get("status") is not None:
        add_error(faults, body, times)
    elif "retryAfter" in body:
        raise ModelApiError(400, "retryAfter: goes with a status of 429 or 529")
    elif switch := next((s for s in ONCE_SWITCHES if s in body), None):
        if body[switch] is not True:
            raise ModelApiError(400, f"{switch}: must be true")
        faults.add_once(switch, times)
    elif "namedToolChoice" in body:
        if body["namedToolChoice"] is not False:
            raise ModelApiError(400, "namedToolChoice: must be false (DELETE /dev/faults restores it)")
        faults.named_choice = False
    elif "delayMs" in body:
        faults.add_delay(whole(body["delayMs"], "delayMs", 1, MAX_DELAY_MS), times)
    elif "stopReason" in body:
        if body["stopReason"] not in STOP_REASONS:
            raise ModelApiError(400, f"stopReason: must be one of {', '.join(STOP_REASONS)}")
        faults.add_stop_reason(body["stopReason"], times)
    else:
        raise ModelApiError(400, f"status: required, or another switch: {SHAPES}")
    return Response(status=204)


def add_error(faults: Faults, body: dict, times: int) -> None:
    status = body["status"]
    if status not in STATUSES or isinstance(status, bool):
        raise ModelApiError(400, f"status: must be one of {', '.join(map(str, STATUSES))}")
    retry_after = body.get("retryAfter")
    if retry_after is not None and status == 500:
        raise ModelApiError(400, "retryAfter: goes with a status of 429 or 529")
    if retry_after is not None:
        retry_after = whole(retry_after, "retryAfter", 0, MAX_RETRY_AFTER)
    faults.add(status, times, retry_after)


def whole(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ModelApiError(400, f"{field}: must be a whole number from {low} to {high}")
    return value


@bp.post("/dev/clock")
def advance_clock() -> Response:
    """`{"advanceS": seconds}`: devllm's clock (the caches' lifetimes) moves on that far,
    so a test sees a cache lapse without waiting for it; answers the total moved so far."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ModelApiError(400, 'The body must be a JSON object: {"advanceS": seconds}.')
    seconds = whole(body.get("advanceS"), "advanceS", 1, MAX_ADVANCE_S)
    return jsonify(advancedS=current_app.extensions["devllm.clock"].advance(seconds))


@bp.get("/dev/requests")
def seen_requests() -> Response:
    """The Messages requests sent with this request's API key, oldest first (the newest
    1000): tools, system and tool_choice digests, the prompt's blocks, the usage billed."""
    key = api_key()
    if not key:
        raise ModelApiError(401, "x-api-key header is required: it names whose requests to show")
    return jsonify(requests=current_app.extensions["devllm.requests"].of(key))


@bp.delete("/dev/faults")
def clear_faults() -> Response:
    current_app.extensions["devllm.faults"].clear()
    return Response(status=204)
