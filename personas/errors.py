"""The service's few named errors, and the one place that turns each into JSON.

Every error body has the contract's shape: {"error", "message", ...extra}.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, g, jsonify
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    kind = "BadRequest"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.kind, "message": self.message, **self.extra}


class ValidationFailed(ApiError):
    status = 400
    kind = "ValidationError"

    def __init__(self, message: str, details: list[dict[str, Any]]) -> None:
        super().__init__(message, details=details)


class Unauthorized(ApiError):
    status = 401
    kind = "Unauthorized"


class Forbidden(ApiError):
    status = 403
    kind = "Forbidden"


class NotFound(ApiError):
    status = 404
    kind = "NotFound"


class Conflict(ApiError):
    status = 409
    kind = "Conflict"


class Unavailable(ApiError):
    status = 503
    kind = "Unavailable"


class SchemaNotMigrated(Unavailable):
    kind = "SchemaNotMigrated"


class UpstreamError(ApiError):
    """mana-auth failed at `step`: 502, or 504 when it did not answer in time."""

    kind = "UpstreamError"

    def __init__(
        self, step: str, message: str, upstream_status: int | None = None, timeout: bool = False
    ) -> None:
        super().__init__(message, step=step, upstreamStatus=upstream_status)
        self.step = step
        self.upstream_status = upstream_status
        self.timeout = timeout
        self.status = 504 if timeout else 502


RETRY_AFTER_SECONDS = "2"


def _json(body: dict[str, Any], status: int):
    request_id = g.get("request_id")
    if request_id and status >= 500:
        body = {**body, "requestId": request_id}
    response = jsonify(body)
    response.status_code = status
    if status == 503:
        # Every 503 here is passing (database away, mana-auth calls shed): say when to retry.
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return _json(exc.body(), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # Werkzeug's own 404/405/413...: same JSON shape as ours.
        kind = (exc.name or "Error").replace(" ", "")
        response = _json({"error": kind, "message": exc.description or exc.name}, exc.code or 500)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg.OperationalError)
    def database_unavailable(exc: Exception):
        log.warning("database unavailable: %s", type(exc).__name__)
        return _json(
            {"error": "Unavailable", "message": "The database is not answering; try again shortly."}, 503
        )

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return _json(
            {
                "error": "InternalError",
                "message": "Something went wrong on our side; the request id helps us find it.",
            },
            500,
        )
