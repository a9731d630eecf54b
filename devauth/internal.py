"""/api/v1/internal: what trusted services call, behind the service key."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from devauth.db import get_db, queries
from devauth.errors import NotFound
from devauth.gates import require_service_key
from devauth.validation import PersonaStamp, parse_body

bp = Blueprint("internal", __name__, url_prefix="/api/v1/internal")


@bp.before_request
@require_service_key
def gate() -> None:
    """Every internal route needs the service key, when one is configured."""


@bp.post("/users/<user_id:user_id>/persona-stamp")
def stamp_persona(user_id: str) -> Response:
    """Mark the user as a persona with the given tier and a verified email; idempotent."""
    body = parse_body(PersonaStamp)
    with get_db().connection() as conn:
        if queries.users.stamp_persona(conn, id=user_id, access_tier=body.accessTier) is None:
            raise NotFound("No user with that id.")
    return jsonify(ok=True)
