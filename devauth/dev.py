"""/dev: the stand-in's extras for local runs and tests; never part of mana-auth's contract."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from devauth import tokens
from devauth.db import get_db, queries
from devauth.errors import NotFound
from devauth.gates import get_config
from devauth.validation import FaultRequest, Settings, TokenRequest, parse_body

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.post("/token")
def mint_token() -> Response:
    """A token signed with the current key: admin tokens for local use, odd ones for tests."""
    body = parse_body(TokenRequest)
    with get_db().connection() as conn:
        token = tokens.issue(
            conn,
            get_config(),
            sub=body.sub,
            role=body.role,
            email=body.email,
            tier=body.tier,
            aud=body.aud,
            iss=body.iss,
            expires_in=body.expiresIn,
        )
    return jsonify(token=token)


@bp.post("/faults")
def add_fault() -> Response:
    body = parse_body(FaultRequest)
    with get_db().connection() as conn:
        queries.faults.insert_fault(
            conn,
            path=body.path,
            method=body.method.upper() if body.method else None,
            status=body.status,
            delay_ms=body.delayMs or 0,
            times=body.times,
        )
    return Response(status=204)


@bp.delete("/faults")
def clear_faults() -> Response:
    with get_db().connection() as conn:
        queries.faults.clear_faults(conn)
    return Response(status=204)


@bp.post("/rotate-keys")
def rotate_keys() -> Response:
    """A new signing key; the JWKS keeps the previous one until the next rotation."""
    with get_db().connection() as conn:
        return jsonify(kid=tokens.rotate(conn))


@bp.get("/users/<user_id:user_id>")
def stored_user(user_id: str) -> Response:
    with get_db().connection() as conn:
        user = queries.users.user_by_id(conn, id=user_id)
    if user is None:
        raise NotFound("No user with that id.")
    return jsonify(user)


@bp.post("/settings")
def change_settings() -> Response:
    """Development switches that make the stand-in answer as some deployments do."""
    body = parse_body(Settings)
    with get_db().connection() as conn:
        settings = queries.settings.update_settings(
            conn, require_email_verification=body.requireEmailVerification
        )
    return jsonify(settings)


@bp.get("/settings")
def show_settings() -> Response:
    with get_db().connection() as conn:
        return jsonify(queries.settings.settings(conn))
