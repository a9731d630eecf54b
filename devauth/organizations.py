"""/api/auth/organization: spaces (Better Auth's organizations) as a person meets them.

These are Better Auth's own routes, so they answer as a stock Better Auth with its
organization plugin does (the parity test in the suite runs the same steps against
both): refusals are `{"code", "message"}`, mostly 400; anyone may create a space (and
owns it), owners and admins invite, members read the member list, and only the invited
email accepts.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from flask import Blueprint, Response, g, jsonify
from psycopg.types.json import Jsonb

from devauth.db import get_db, queries
from devauth.errors import Refusal, Unauthorized, ValidationFailed
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
# Better Auth's default roles that hold the `invitation: create` permission.
INVITING_ROLES = {"owner", "admin"}


@bp.before_request
@require_bearer
def gate() -> None:
    """Every organization route acts as the bearer token's user."""


@bp.errorhandler(ValidationFailed)
def invalid_body(exc: ValidationFailed) -> tuple[Response, int]:
    """Better Auth's code for a bad body, with our details naming each field."""
    return jsonify(code="VALIDATION_ERROR", message=exc.message, **exc.extra), 400


@bp.errorhandler(Unauthorized)
def unauthorized(exc: Unauthorized) -> tuple[Response, int]:
    return jsonify(code="UNAUTHORIZED", message=exc.message), 401


def add_organization(
    conn: psycopg.Connection, *, owner_id: str, name: str, slug: str, metadata: dict
) -> dict | None:
    """A space with `owner_id` as its owner and only member (under `members`); None when
    the slug is taken."""
    organization = queries.organizations.insert_organization(
        conn, id=str(uuid.uuid4()), name=name, slug=slug, metadata=Jsonb(metadata)
    )
    if organization is None:
        return None
    owner = queries.organizations.insert_member(
        conn, organization_id=organization["id"], user_id=owner_id, role="owner"
    )
    return {**organization, "members": [owner]}


def as_stored(organization: dict) -> dict:
    """The space as Better Auth reads it back from its store: metadata a JSON string."""
    return {**organization, "metadata": json.dumps(organization["metadata"], separators=(",", ":"))}


def _acting_user(conn: psycopg.Connection) -> dict:
    user = queries.users.user_by_id(conn, id=g.claims["sub"])
    if user is None:
        raise Unauthorized("The token's user does not exist (any more).")
    return user


def _membership(conn: psycopg.Connection, organization_id: str) -> dict | None:
    return queries.organizations.membership(conn, organization_id=organization_id, user_id=g.claims["sub"])


@bp.get("/list")
def list_organizations() -> Response:
    """Every space the token's user belongs to, in no promised order."""
    with get_db().connection() as conn:
        rows = queries.organizations.organizations_of(conn, user_id=g.claims["sub"])
    return jsonify([as_stored(row) for row in rows])


@bp.post("/create")
def create() -> Response:
    body = parse_body(NewOrganization)
    with get_db().connection() as conn:
        owner = _acting_user(conn)
        organization = add_organization(
            conn, owner_id=owner["id"], name=body.name, slug=body.slug, metadata=body.metadata.model_dump()
        )
    if organization is None:
        raise Refusal("ORGANIZATION_ALREADY_EXISTS", "Organization already exists")
    return jsonify(organization)


@bp.post("/invite-member")
def invite_member() -> Response:
    """An invitation for `email`; one already pending is refused unless `resend` renews it."""
    body = parse_body(NewInvitation)
    with get_db().connection() as conn:
        inviter = _acting_user(conn)
        organization_id = body.organizationId
        membership = _membership(conn, organization_id)
        if membership is None:  # Better Auth asks this before whether the space exists
            raise Refusal("MEMBER_NOT_FOUND", "Member not found")
        organization = queries.organizations.organization_by_id(conn, id=organization_id)
        if membership["role"] not in INVITING_ROLES or organization["metadata"].get("type") == "personal":
            raise Refusal(
                "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION",
                "You are not allowed to invite users to this organization"
                + (" (a personal space has one member)" if membership["role"] in INVITING_ROLES else ""),
                status=403,
            )
        if queries.organizations.member_by_email(conn, organization_id=organization_id, email=body.email):
            raise Refusal(
                "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION",
                "User is already a member of this organization",
            )
        invitation = _invitation(conn, body, inviter_id=inviter["id"])
    return jsonify(invitation)


def _invitation(conn: psycopg.Connection, body: NewInvitation, inviter_id: str) -> dict:
    """A new pending invitation, or with `resend` the pending one with a new expiry."""
    where = {"organization_id": body.organizationId, "email": body.email}
    expires_at = datetime.now(UTC) + INVITATION_TTL
    if body.resend:
        renewed = queries.organizations.renew_invitation(conn, expires_at=expires_at, **where)
        if renewed is not None:
            return renewed
    queries.organizations.drop_expired_invitation(conn, **where)
    invitation = queries.organizations.insert_invitation(
        conn, role=body.role, inviter_id=inviter_id, expires_at=expires_at, **where
    )
    if invitation is None:
        raise Refusal(
            "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION", "User is already invited to this organization"
        )
    return invitation


@bp.post("/accept-invitation")
def accept_invitation() -> Response:
    body = parse_body(InvitationAnswer)
    with get_db().connection() as conn:
        user = _acting_user(conn)
        invitation = queries.organizations.invitation_for_update(conn, id=body.invitationId)
        # Unknown, expired and already answered all read the same, as in Better Auth.
        if invitation is None or invitation["expired"] or invitation["status"] != "pending":
            raise Refusal("INVITATION_NOT_FOUND", "Invitation not found")
        if invitation["email"].lower() != user["email"].lower():
            raise Refusal(
                "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION",
                "You are not the recipient of the invitation",
                status=403,
            )
        accepted = queries.organizations.accept_invitation(conn, id=invitation["id"])
        member = queries.organizations.insert_member(
            conn, organization_id=invitation["organizationId"], user_id=user["id"], role=invitation["role"]
        )
    return jsonify(invitation=accepted, member=member)


@bp.get("/get-full-organization")
def full_organization() -> Response:
    """The space with its members (each with its `user`) and, for those who may invite,
    its invitations."""
    query = parse_query(OrganizationQuery)
    with get_db().connection() as conn:
        organization = queries.organizations.organization_by_id(conn, id=query.organizationId)
        if organization is None:
            raise Refusal("ORGANIZATION_NOT_FOUND", "Organization not found")
        membership = _membership(conn, organization["id"])
        if membership is None:
            raise Refusal(
                "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
                "User is not a member of the organization",
                status=403,
            )
        members = queries.organizations.members_of(conn, organization_id=organization["id"])
        invitations = (
            queries.organizations.invitations_of(conn, organization_id=organization["id"])
            if membership["role"] in INVITING_ROLES
            else []
        )
    return jsonify({**as_stored(organization), "members": members, "invitations": invitations})
