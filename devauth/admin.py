"""/api/v1/admin: user lookup and deletion, behind an admin token (and the service key)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from devauth.db import get_db, queries
from devauth.errors import NotFound, RequestRefused
from devauth.gates import require_admin

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")
MAX_LIMIT = 100


@bp.before_request
@require_admin
def gate() -> None:
    """Every admin route needs an admin token."""


def _int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        raise RequestRefused(f"{name} must be a whole number from {minimum} to {maximum}.")
    return int(raw)


@bp.get("/users")
def search_users() -> Response:
    """Users whose email or name contains `search` (any case), an exact email first."""
    search = request.args.get("search", "")
    if "\x00" in search:
        raise RequestRefused("search must not contain the NUL character.")
    page = _int_arg("page", 1, 1, 1_000_000)
    limit = _int_arg("limit", MAX_LIMIT, 1, MAX_LIMIT)
    with get_db().connection() as conn:
        total = queries.users.count_matching_users(conn, search=search)
        rows = queries.users.search_users(conn, search=search, limit=limit, offset=(page - 1) * limit)
    return jsonify(users=rows, total=total, page=page, limit=limit)


@bp.delete("/users/<user_id:user_id>/data")
def delete_user(user_id: str) -> Response:
    """The user and everything the stand-in keeps for it: its memberships, the invitations
    it sent or was sent, and every space it leaves with no member (its personal one, and a
    shared one whose other members are gone), all in one transaction."""
    with get_db().connection() as conn:
        spaces = [row["id"] for row in queries.organizations.organization_ids_of(conn, user_id=user_id)]
        deleted = queries.users.delete_user(conn, id=user_id)
        if deleted is None:
            raise NotFound("No user with that id.")
        queries.organizations.delete_invitations_to(conn, email=deleted["email"])
        queries.organizations.delete_empty_organizations(conn, ids=spaces)
    return jsonify(ok=True, deleted=user_id)
