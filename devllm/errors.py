"""Errors in the Messages API's own shape, with its headers:
`{"type": "error", "error": {"type", "message"}, "request_id"}`, the same id in the
`request-id` header (every answer carries one), and `x-should-retry` saying whether a
client should try again (true for 408, 409, 429 and 5xx, as the SDK would decide anyway)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
RETRYABLE = (408, 409, 429)


class ModelApiError(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def new_request_id() -> str:
    return f"req_dev{secrets.token_hex(12)}"


def error_response(status: int, message: str, retry_after: int | None = None) -> Response:
    request_id = new_request_id()
    error = {"type": TYPES.get(status, "api_error"), "message": message}
    response = jsonify(type="error", error=error, request_id=request_id)
    response.status_code = status
    response.headers["request-id"] = request_id
    response.headers["x-should-retry"] = "true" if status in RETRYABLE or status >= 500 else "false"
    if retry_after is not None:
        response.headers["retry-after"] = str(retry_after)
    return response


def with_request_id(response: Response) -> Response:
    """Every answer names itself, as the API's do (errors already have theirs)."""
    response.headers.setdefault("request-id", new_request_id())
    return response


def register_error_handlers(app: Flask, faces: Mapping[str, Callable[[ModelApiError], Response]]) -> None:
    """Errors in the shape of the API whose face was asked: `faces` maps a path prefix to
    that face's renderer; any other path answers in the Messages API's shape."""

    def respond(exc: ModelApiError) -> Response:
        render = next((r for prefix, r in faces.items() if request.path.startswith(prefix)), None)
        return render(exc) if render else error_response(exc.status, exc.message, exc.retry_after)

    app.register_error_handler(ModelApiError, respond)
    app.register_error_handler(
        HTTPException, lambda exc: respond(ModelApiError(exc.code or 500, exc.description or exc.name))
    )
