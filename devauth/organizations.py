"""/api/auth/organization: spaces (Better Auth's organizations) as a person meets them.

Each route acts as the bearer token's user: anyone may create a space (and owns it),
only members invite and read the member list, and only the invited email accepts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from flask import Blueprint, Response, g, jsonify
from psycopg.types.json import Jsonb

from devauth.db import get_db, queries
from devauth.errors import ApiError, Conflict, Forbidden, NotFound, Unauthorized
from devauth.gates import require_bearer
from devauth.validation import (
    InvitationAnswer,
    NewInvitation,
    NewOrganization,
    OrganizationQuery,
    parse_body,
    parse_query,
)

bp = Blueprint("organizations", __name__, url_prefix="/api/auth/organization")
# As long as Better Auth keeps an invitation open by default.
INVITATION_TTL = timedelta(hours=48)


@bp.before_request
@require_bearer
def gate() -> None:
    """Every organization route acts as the bearer token's user."""


def add_organization(
    conn: psycopg.Connection, *, owner_id: str, name: str, slug: str, metadata: dict
) -> dict | None:
    """A space with `owner_id` as its owner; None when the slug is taken."""
    organization = queries.organizations.insert_organization(
        conn, id=str(uuid.uuid4()), name=name, slug=slug, metadata=Jsonb(metadata)
    )
    if organization is not None:
        queries.organizations.insert_member(
            conn, organization_id=organization["id"], user_id=owner_id, role="owner"
        )
    return organization


def _acting_user(conn: psycopg.Connection) -> dict:
    user = queries.users.user_by_id(conn, id=g.claims["sub"])
    if user is None:
        raise Unauthorized("The token's user does not exist (any more).")
    return user


def _member_organization(conn: psycopg.Connection, organization_id: str) -> dict:
    """The space, if it exists (404) and the caller belongs to it (403)."""
    organization = queries.organizations.organization_by_id(conn, id=organization_id)
    if organization is None:
        raise NotFound("No organization with that id.")
    membership = queries.organizations.membership(
        conn, organization_id=organization_id, user_id=g.claims["sub"]
    )
    if membership is None:
        raise Forbidden("Only members of this organization may do that.")
    return organization


@bp.get("/list")
def list_organizations() -> Response:
    """Every space the token's user belongs to: the personal one first, then shared ones."""
    with get_db().connection() as conn:
        rows = queries.organizations.organizations_of(conn, user_id=g.claims["sub"])
    return jsonify(rows)


@bp.post("/create")
def create() -> Response:
    body = parse_body(NewOrganization)
    with get_db().connection() as conn:
        owner = _acting_user(conn)
        organization = add_organization(
            conn, owner_id=owner["id"], name=body.name, slug=body.slug, metadata=body.metadata.model_dump()
        )
    if organization is None:
        raise Conflict("An organization with that slug already exists.", code="ORGANIZATION_ALREADY_EXISTS")
    return jsonify(organization)


@bp.post("/invite-member")
def invite_member() -> Response:
    """An invitation for `email`; if one is already pending, that one (renewed if expired)."""
    body = parse_body(NewInvitation)
    with get_db().connection() as conn:
        inviter = _acting_user(conn)
        organization = _member_organization(conn, body.organizationId)
        if organization["metadata"].get("type") == "personal":
            raise ApiError("A personal space has one member; invite people to a shared space.")
        if queries.organizations.member_by_email(conn, organization_id=organization["id"], email=body.email):
            raise Conflict("That user is already a member of this organization.", code="ALREADY_A_MEMBER")
        invitation = queries.organizations.invite(
            conn,
            organization_id=organization["id"],
            email=body.email,
            role=body.role,
            inviter_id=inviter["id"],
            expires_at=datetime.now(UTC) + INVITATION_TTL,
        )
    return jsonify(invitation)


@bp.post("/accept-invitation")
def accept_invitation() -> Response:
    body = parse_body(InvitationAnswer)
    with get_db().connection() as conn:
        user = _acting_user(conn)
        invitation = queries.organizations.invitation_for_update(conn, id=body.invitationId)
        if invitation is None:
            raise NotFound("No invitation with that id.")
        if invitation["email"].lower() != user["email"].lower():
            raise Forbidden("This invitation is for another user.")
        if invitation["status"] != "pending":
            raise Conflict(f"This invitation is {invitation['status']}, not pending.", code="NOT_PENDING")
        if invitation["expired"]:
            raise ApiError("This invitation has expired; ask for a new one.", code="INVITATION_EXPIRED")
        accepted = queries.organizations.accept_invitation(conn, id=invitation["id"])
        member = queries.organizations.insert_member(
            conn, organization_id=invitation["organizationId"], user_id=user["id"], role=invitation["role"]
        )
    return jsonify(invitation=accepted, member=member)


@bp.get("/get-full-organization")
def full_organization() -> Response:
    query = parse_query(OrganizationQuery)
    with get_db().connection() as conn:
        organization = _member_organization(conn, query.organizationId)
        members = queries.organizations.members_of(conn, organization_id=organization["id"])
    return jsonify({**organization, "members": members})
