"""The stand-in's named errors, and the one place that turns each into JSON.

Every error body is {"error", "message", ...extra}, as mana-auth's callers expect.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, Response, jsonify
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


class ValidationFailed(ApiError):
    kind = "ValidationError"


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


class InjectedFault(ApiError):
    """A status a test asked for through /dev/faults."""

    kind = "InjectedFault"

    def __init__(self, status: int) -> None:
        super().__init__(f"devauth answered {status} on purpose: a fault injected through /dev/faults.")
        self.status = status


def error_response(kind: str, message: str, status: int, **extra: Any) -> Response:
    response = jsonify({"error": kind, "message": message, **extra})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(exc.kind, exc.message, exc.status, **exc.extra)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        # Werkzeug's own 404/405/...: the same JSON shape as ours.
        response = error_response(
            (exc.name or "Error").replace(" ", ""), exc.description or exc.name, exc.code or 500
        )
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg.OperationalError)
    def database_unavailable(exc: Exception) -> Response:
        log.warning("database unavailable: %s", type(exc).__name__)
        return error_response("Unavailable", "devauth's database is not answering; try again shortly.", 503)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response("InternalError", "devauth failed unexpectedly; see its log.", 500)
