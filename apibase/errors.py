"""The few named errors every API here raises, and the one place that turns each into
JSON of the shape {"error", "message", ...extra}."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "2"


class RequestRefused(Exception):
    status = 400
    kind = "BadRequest"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.kind, "message": self.message, **self.extra}


class ValidationFailed(RequestRefused):
    status = 400
    kind = "ValidationError"

    def __init__(self, message: str, details: list[dict[str, Any]]) -> None:
        super().__init__(message, details=details)


class Unauthorized(RequestRefused):
    status = 401
    kind = "Unauthorized"


class Forbidden(RequestRefused):
    status = 403
    kind = "Forbidden"


class NotFound(RequestRefused):
    status = 404
    kind = "NotFound"


class Conflict(RequestRefused):
    status = 409
    kind = "Conflict"


class Unavailable(RequestRefused):
    """Something we depend on is away for now: the client should try again shortly."""

    status = 503
    kind = "Unavailable"


def json_error(body: dict[str, Any], status: int):
    """The response for an error body; a 5xx names the request id, a 503 when to retry."""
    request_id = g.get("request_id")
    if request_id and status >= 500:
        body = {**body, "requestId": request_id}
    response = jsonify(body)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RequestRefused)
    def api_error(exc: RequestRefused):
        return json_error(exc.body(), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # Werkzeug's own 404/405/413...: same JSON shape as ours.
        kind = (exc.name or "Error").replace(" ", "")
        response = json_error({"error": kind, "message": exc.description or exc.name}, exc.code or 500)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        return internal_error(exc)


def internal_error(exc: Exception):
    """A bug of ours: logged whole (with the request id), answered without internals."""
    log.error("unhandled error", exc_info=exc)
    message = "Something went wrong on our side; the request id helps us find it."
    return json_error({"error": "InternalError", "message": message}, 500)
