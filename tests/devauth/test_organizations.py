"""Shared spaces in the stand-in: create, invite, accept and read members over real HTTP,
each call with the acting user's own token, and the checks a person would meet."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pytest
import requests
from psycopg import sql

from devauth import create_app
from devauth.config import DevAuthConfig
from devstack.postgres import create_database
from devstack.processes import Process
from persona_runner.spaces import space_type
from tests.devauth_fixtures import mint_token
from tests.support.auth import bearer
from tests.support.standin import (
    ORG,
    TIMEOUT,
    Person,
    accept,
    admin,
    create,
    invite,
    person,
    post,
    shared_space,
    spaces,
)


def full(devauth: Process, who: Person, organization_id: str) -> requests.Response:
    return requests.get(
        f"{devauth.url}{ORG}/get-full-organization",
        params={"organizationId": organization_id},
        headers=bearer(who.token),
        timeout=TIMEOUT,
    )


def listed_ids(devauth: Process, who: Person) -> list[str]:
    response = spaces(devauth, who.token)
    assert response.status_code == 200, response.text
    return [space["id"] for space in response.json()]


def members_of(devauth: Process, who: Person, organization_id: str) -> dict[str, str]:
    response = full(devauth, who, organization_id)
    assert response.status_code == 200, response.text
    return {m["userId"]: m["role"] for m in response.json()["members"]}


def test_a_created_space_is_listed_for_its_creator_who_owns_it(devauth):
    owner = person(devauth)
    slug = f"lin-family-{uuid.uuid4().hex[:8]}"
    response = create(devauth, owner, "team", slug=slug)
    assert response.status_code == 200, response.text
    space = response.json()
    assert set(space) == {"id", "name", "slug", "metadata", "createdAt", "members"}
    assert (space["name"], space["slug"], space["metadata"]) == ("The Lins", slug, {"type": "team"})
    [member] = space.pop("members")
    assert (member["userId"], member["organizationId"], member["role"]) == (owner.id, space["id"], "owner")
    listed = {s["id"]: s for s in spaces(devauth, owner.token).json()}
    assert sorted(space_type(s["metadata"]) for s in listed.values()) == ["personal", "team"]
    # Listed as Better Auth reads it back from its store: metadata as a JSON string.
    assert listed[space["id"]] == {**space, "metadata": '{"type":"team"}'}
    assert members_of(devauth, owner, space["id"]) == {owner.id: "owner"}


def test_an_invited_partner_who_accepts_shares_the_space(devauth):
    owner, partner = person(devauth, "Owner"), person(devauth, "Partner")
    space = create(devauth, owner, "practice").json()
    invited = invite(devauth, owner, space["id"], partner.email.upper())
    assert invited.status_code == 200, invited.text
    invitation = invited.json()
    assert invitation["status"] == "pending" and invitation["role"] == "member"
    assert invitation["organizationId"] == space["id"] and invitation["email"] == partner.email.lower()
    assert invitation["expiresAt"] > datetime.now(UTC).isoformat()
    assert space["id"] not in listed_ids(devauth, partner)  # an invitation is not a membership

    accepted = accept(devauth, partner, invitation["id"])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["invitation"] == {**invitation, "status": "accepted"}
    member = accepted.json()["member"]
    assert (member["userId"], member["organizationId"], member["role"]) == (partner.id, space["id"], "member")

    for who in (owner, partner):
        assert space["id"] in listed_ids(devauth, who)
        assert members_of(devauth, who, space["id"]) == {owner.id: "owner", partner.id: "member"}
    [personal] = [s for s in spaces(devauth, partner.token).json() if space_type(s["metadata"]) == "personal"]
    assert sorted(listed_ids(devauth, partner)) == sorted([personal["id"], space["id"]])


def test_inviting_a_pending_invitee_again_is_refused_unless_resent(devauth):
    owner, partner = person(devauth), person(devauth)
    space = create(devauth, owner).json()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: invite(devauth, owner, space["id"], partner.email), range(4)))
    assert sorted(r.status_code for r in answers) == [200, 400, 400, 400]
    first = next(r for r in answers if r.status_code == 200).json()
    assert {r.json()["code"] for r in answers if r.status_code == 400} == {
        "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION"
    }
    resent = invite(devauth, owner, space["id"], partner.email, resend=True)
    assert resent.status_code == 200, resent.text
    assert {**resent.json(), "expiresAt": None} == {**first, "expiresAt": None}
    assert resent.json()["expiresAt"] > first["expiresAt"]


def refusal(response: requests.Response) -> tuple[int, str]:
    """(status, code) of a refusal, which is worded as Better Auth words it."""
    assert set(response.json()) == {"code", "message"}, response.text
    return response.status_code, response.json()["code"]


def test_a_non_member_can_neither_invite_nor_read_the_members(devauth):
    owner, partner, space = shared_space(devauth)
    stranger = person(devauth, "Stranger")
    assert refusal(invite(devauth, stranger, space["id"], stranger.email)) == (400, "MEMBER_NOT_FOUND")
    assert refusal(full(devauth, stranger, space["id"])) == (403, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION")
    assert space["id"] not in listed_ids(devauth, stranger)
    # A plain member may read the members but not invite, nor see the invitations.
    refused = invite(devauth, partner, space["id"], stranger.email)
    assert refusal(refused) == (403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION")
    assert full(devauth, partner, space["id"]).json()["invitations"] == []
    assert [i["status"] for i in full(devauth, owner, space["id"]).json()["invitations"]] == ["accepted"]


def test_an_unknown_space_or_invitation_is_400(devauth):
    who = person(devauth)
    assert refusal(invite(devauth, who, str(uuid.uuid4()), "x@devauth.test")) == (400, "MEMBER_NOT_FOUND")
    assert refusal(full(devauth, who, str(uuid.uuid4()))) == (400, "ORGANIZATION_NOT_FOUND")
    assert refusal(accept(devauth, who, str(uuid.uuid4()))) == (400, "INVITATION_NOT_FOUND")


def test_only_the_invited_user_accepts_and_only_once(devauth):
    owner, partner, other = person(devauth), person(devauth), person(devauth)
    space = create(devauth, owner).json()
    invitation = invite(devauth, owner, space["id"], partner.email).json()
    for intruder in (other, owner):
        refused = accept(devauth, intruder, invitation["id"])
        assert refusal(refused) == (403, "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION")
    assert space["id"] not in listed_ids(devauth, other)
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: accept(devauth, partner, invitation["id"]), range(3)))
    assert sorted(r.status_code for r in answers) == [200, 400, 400]
    assert {r.json().get("code") for r in answers if r.status_code == 400} == {"INVITATION_NOT_FOUND"}
    assert members_of(devauth, owner, space["id"]) == {owner.id: "owner", partner.id: "member"}


def test_an_expired_invitation_is_refused_and_inviting_again_sends_a_new_one(devauth, database_url):
    owner, partner = person(devauth), person(devauth)
    space = create(devauth, owner).json()
    invitation = invite(devauth, owner, space["id"], partner.email).json()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE devauth.invitations SET expires_at = now() - interval '1 minute' WHERE id = %s",
            (invitation["id"],),
        )
    assert refusal(accept(devauth, partner, invitation["id"])) == (400, "INVITATION_NOT_FOUND")
    assert space["id"] not in listed_ids(devauth, partner)

    # An expired invitation is no longer pending: inviting again needs no `resend`.
    renewed = invite(devauth, owner, space["id"], partner.email).json()
    assert renewed["id"] != invitation["id"] and renewed["expiresAt"] > datetime.now(UTC).isoformat()
    assert accept(devauth, partner, renewed["id"]).status_code == 200


def test_a_taken_slug_is_400_even_when_created_at_once(devauth):
    first, second = person(devauth), person(devauth)
    slug = f"clash-{uuid.uuid4().hex[:10]}"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda who: create(devauth, who, slug=slug), [first, second] * 2))
    assert sorted(r.status_code for r in answers) == [200, 400, 400, 400]
    clash = next(r for r in answers if r.status_code == 400)
    assert refusal(clash) == (400, "ORGANIZATION_ALREADY_EXISTS")
    slugs = [s["slug"] for who in (first, second) for s in spaces(devauth, who.token).json()]
    assert slugs.count(slug) == 1


def test_inviting_a_member_is_400(devauth):
    owner, partner, space = shared_space(devauth)
    for email in (owner.email, partner.email.upper()):
        response = invite(devauth, owner, space["id"], email)
        assert refusal(response) == (400, "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION")


def test_nobody_is_invited_into_a_personal_space(devauth):
    owner, partner = person(devauth), person(devauth)
    [personal] = spaces(devauth, owner.token).json()
    response = invite(devauth, owner, personal["id"], partner.email)
    assert refusal(response) == (403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION")
    assert "personal" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "ok-slug", "metadata": {"type": "family"}}, "name"),
        ({"name": "x" * 101, "slug": "ok-slug", "metadata": {"type": "family"}}, "name"),
        ({"name": "N", "metadata": {"type": "family"}}, "slug"),
        ({"name": "N", "slug": "Not A Slug", "metadata": {"type": "family"}}, "slug"),
        ({"name": "N", "slug": "-dash-", "metadata": {"type": "family"}}, "slug"),
        ({"name": "N", "slug": "personal-mine", "metadata": {"type": "family"}}, "slug"),
        ({"name": "N", "slug": "s" * 65, "metadata": {"type": "family"}}, "slug"),
        ({"name": "N", "slug": "ok-slug"}, "metadata"),
        ({"name": "N", "slug": "ok-slug", "metadata": {"type": "personal"}}, "metadata.type"),
        ({"name": "N", "slug": "ok-slug", "metadata": {"type": "club"}}, "metadata.type"),
        ({"name": "N", "slug": "ok-slug", "metadata": "family"}, "metadata"),
    ],
)
def test_a_bad_create_body_is_400_naming_the_field(devauth, body, field):
    response = post(devauth, person(devauth), "create", body)
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in response.json()["details"]]


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("invite-member", {"email": "not-an-email", "organizationId": "x"}, "email"),
        ("invite-member", {"email": "a@b.test", "role": "owner", "organizationId": "x"}, "role"),
        ("invite-member", {"email": "a@b.test"}, "organizationId"),
        ("invite-member", {"email": "a@b.test", "organizationId": 7}, "organizationId"),
        ("accept-invitation", {}, "invitationId"),
        ("accept-invitation", {"invitationId": "a\x00b"}, "invitationId"),
    ],
)
def test_a_bad_invite_or_accept_body_is_400_naming_the_field(devauth, route, body, field):
    response = post(devauth, person(devauth), route, body)
    assert response.status_code == 400
    assert field in response.json()["message"]


def test_reading_members_without_an_organization_id_is_400(devauth):
    headers = bearer(person(devauth).token)
    response = requests.get(f"{devauth.url}{ORG}/get-full-organization", headers=headers)
    assert response.status_code == 400 and "organizationId" in response.json()["message"]


def test_every_organization_route_needs_a_valid_token(devauth):
    for method, route in [("POST", "create"), ("POST", "invite-member"), ("POST", "accept-invitation")]:
        response = requests.request(method, f"{devauth.url}{ORG}/{route}", json={}, timeout=TIMEOUT)
        assert refusal(response) == (401, "UNAUTHORIZED"), route
    ghost_id = str(uuid.uuid4())  # a well-signed token for a user that does not exist
    ghost = Person(ghost_id, "ghost@devauth.test", mint_token(devauth, role="user", sub=ghost_id))
    assert create(devauth, ghost).status_code == 401


def org_rows(database_url: str, *ids: str) -> int:
    with psycopg.connect(database_url) as conn:
        query = "SELECT count(*) FROM devauth.organizations WHERE id = ANY(%s)"
        return conn.execute(query, (list(ids),)).fetchone()[0]


def delete(devauth: Process, admin_token: str, who: Person) -> None:
    url = f"{devauth.url}/api/v1/admin/users/{who.id}/data"
    assert requests.delete(url, headers=admin(admin_token), timeout=TIMEOUT).status_code == 200


def test_deleting_users_drops_their_memberships_and_the_spaces_left_empty(devauth, admin_token, database_url):
    owner, partner = person(devauth, "Owner"), person(devauth, "Partner")
    shared = create(devauth, owner).json()
    # An admin, so that once the owner is gone the partner can still invite.
    as_admin = post(
        devauth,
        owner,
        "invite-member",
        {"email": partner.email, "role": "admin", "organizationId": shared["id"]},
    )
    assert accept(devauth, partner, as_admin.json()["id"]).status_code == 200
    invitee = person(devauth, "Invitee")
    alone = create(devauth, owner).json()
    to_alone = invite(devauth, owner, alone["id"], invitee.email).json()
    to_partner = invite(devauth, owner, alone["id"], partner.email).json()
    listed = spaces(devauth, owner.token).json()
    [owners_personal] = [s["id"] for s in listed if space_type(s["metadata"]) == "personal"]

    delete(devauth, admin_token, owner)
    # The shared space outlives its creator while the partner belongs to it.
    assert members_of(devauth, partner, shared["id"]) == {partner.id: "admin"}
    assert org_rows(database_url, owners_personal, alone["id"]) == 0
    assert refusal(accept(devauth, invitee, to_alone["id"])) == (400, "INVITATION_NOT_FOUND")
    assert refusal(accept(devauth, partner, to_partner["id"])) == (400, "INVITATION_NOT_FOUND")

    newcomer = person(devauth, "Newcomer")
    pending = invite(devauth, partner, shared["id"], newcomer.email).json()
    delete(devauth, admin_token, partner)
    assert org_rows(database_url, shared["id"]) == 0  # its last member is gone
    assert refusal(accept(devauth, newcomer, pending["id"])) == (400, "INVITATION_NOT_FOUND")
    assert [space_type(s["metadata"]) for s in spaces(devauth, newcomer.token).json()] == ["personal"]


def test_deleting_a_user_drops_the_invitations_sent_to_it(devauth, admin_token, database_url):
    owner, invitee = person(devauth), person(devauth)
    space = create(devauth, owner).json()
    invite(devauth, owner, space["id"], invitee.email)
    delete(devauth, admin_token, invitee)
    with psycopg.connect(database_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM devauth.invitations WHERE lower(email) = lower(%s)", (invitee.email,)
        ).fetchone()[0]
    assert left == 0
    assert members_of(devauth, owner, space["id"]) == {owner.id: "owner"}


def test_a_database_from_before_memberships_keeps_each_owner_in_its_space(server_url):
    name = f"devauth_upgrade_{os.getpid()}"
    url = create_database(server_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            CREATE SCHEMA devauth;
            CREATE TABLE devauth.users (
                id text PRIMARY KEY, email text NOT NULL, name text NOT NULL, password_hash text NOT NULL,
                role text NOT NULL DEFAULT 'user', kind text NOT NULL DEFAULT 'human',
                access_tier text NOT NULL DEFAULT 'public', email_verified boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE devauth.organizations (
                id text PRIMARY KEY,
                owner_id text NOT NULL REFERENCES devauth.users (id) ON DELETE CASCADE,
                name text NOT NULL, slug text NOT NULL, metadata jsonb NOT NULL DEFAULT '{}',
                created_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO devauth.users (id, email, name, password_hash) VALUES ('u1', 'u1@x.test', 'U', 'h');
            INSERT INTO devauth.organizations (id, owner_id, name, slug, metadata)
            VALUES ('o1', 'u1', 'U (personal)', 'personal-u1', '{"type": "personal"}');
            """
        )
    for _ in range(2):  # a second start finds nothing left to do
        create_app(DevAuthConfig(database_url=url)).extensions["devauth.database"].close()
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT organization_id, user_id, role FROM devauth.members").fetchall()
    assert rows == [("o1", "u1", "owner")]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
