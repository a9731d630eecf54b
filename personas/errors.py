"""The service's named errors, and the one place that turns each into JSON.

Every error body has the contract's shape: {"error", "message", ...extra}. The shared
family lives in apibase.errors; here are the service's own, and the database's.
"""

from __future__ import annotations

import logging

import psycopg
from flask import Flask
from psycopg_pool import PoolTimeout

from apibase import errors as base
from apibase.errors import (
    Conflict,
    Forbidden,
    NotFound,
    RequestRefused,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    json_error,
)

__all__ = [
    "Conflict",
    "Forbidden",
    "NotFound",
    "RequestRefused",
    "SchemaNotMigrated",
    "Unauthorized",
    "Unavailable",
    "UpstreamError",
    "ValidationFailed",
    "register_error_handlers",
]

log = logging.getLogger(__name__)

# Operator intervention that ends sessions: shutdown, crash, server starting up.
_SESSION_ENDED = {"57P01", "57P02", "57P03"}


class SchemaNotMigrated(Unavailable):
    kind = "SchemaNotMigrated"


class UpstreamError(RequestRefused):
    """mana-auth failed at `step`: 502, or 504 when it did not answer in time."""

    kind = "UpstreamError"

    def __init__(
        self, step: str, message: str, upstream_status: int | None = None, timeout: bool = False
    ) -> None:
        super().__init__(message, step=step, upstreamStatus=upstream_status)
        self.step = step
        self.status = 504 if timeout else 502


def database_away(exc: Exception) -> bool:
    """A pool that could not hand out a connection, or a connection lost or refused: the
    database is away, so "try again" is true. A statement timeout or any other server
    error is not an outage: retrying would hide a bug."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in _SESSION_ENDED


def register_error_handlers(app: Flask) -> None:
    base.register_error_handlers(app)

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg.OperationalError)
    def database_error(exc: Exception):
        if not database_away(exc):
            return base.internal_error(exc)
        log.warning("database unavailable: %s", type(exc).__name__)
        return json_error(
            {"error": "Unavailable", "message": "The database is not answering; try again shortly."}, 503
        )
