"""What users and runners call: register, log in, the signing keys."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify

from devauth import tokens
from devauth.db import get_db, queries
from devauth.errors import Conflict, Unauthorized
from devauth.gates import get_config
from devauth.organizations import add_organization
from devauth.passwords import check_password, hash_password
from devauth.validation import PERSONAL_SLUG_PREFIX, Login, Registration, parse_body

bp = Blueprint("accounts", __name__)


@bp.get("/health")
def health() -> Response:
    return jsonify(ok=True, service="devauth", standIn=True)


@bp.post("/api/v1/auth/register")
def register() -> Response:
    """A new user with a personal organization; a taken email is a 409, or with email
    verification required a 200 naming a made-up user (so nobody learns which emails exist)."""
    body = parse_body(Registration)
    password_hash = hash_password(body.password, get_config().password_cost)
    user_id = str(uuid.uuid4())
    with get_db().connection() as conn:
        user = queries.users.insert_user(
            conn, id=user_id, email=body.email, name=body.name, password_hash=password_hash
        )
        if user is None:
            if queries.settings.settings(conn)["requireEmailVerification"]:
                return jsonify(user={"id": str(uuid.uuid4()), "email": body.email.lower(), "name": body.name})
            raise Conflict("A user with that email already exists.", code="USER_ALREADY_EXISTS")
        add_organization(
            conn,
            owner_id=user_id,
            name=f"{body.name} (personal)",
            slug=f"{PERSONAL_SLUG_PREFIX}{user_id}",
            metadata={"type": "personal"},
        )
    return jsonify(user=user)


@bp.post("/api/v1/auth/login")
def login() -> Response:
    body = parse_body(Login)
    with get_db().connection() as conn:
        user = queries.users.user_by_email(conn, email=body.email)
        if user is None or not check_password(body.password, user["password_hash"]):
            raise Unauthorized("Wrong email or password.", code="INVALID_EMAIL_OR_PASSWORD")
        token = tokens.issue(
            conn,
            get_config(),
            sub=user["id"],
            role=user["role"],
            email=user["email"],
            tier=user["access_tier"],
        )
    return jsonify(token=token, user={"id": user["id"], "email": user["email"], "name": user["name"]})


@bp.get("/api/v1/auth/jwks")
def jwks() -> Response:
    with get_db().connection() as conn:
        return jsonify(keys=tokens.jwks(conn))
