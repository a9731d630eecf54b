"""/health and /ready: is the process up, and does the database answer?"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from personas.db import get_db
from personas.openapi import operation
from personas.response_shapes import Ok, Ready

bp = Blueprint("ops", __name__)


@bp.get("/health")
@operation("The process is up.", ok=Ok)
def health() -> Response:
    return jsonify(ok=True)


@bp.get("/ready")
@operation("The database answers and its schema is migrated.", ok=Ready)
def ready() -> Response:
    """Ready once the database answers and its schema is migrated; 503 otherwise."""
    with get_db().connection() as conn:
        conn.execute("SELECT 1")
    return jsonify(ok=True, database="ok")
