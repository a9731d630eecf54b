"""Users and shared spaces in the mana-auth stand-in, made over real HTTP as a person
would make them: register, log in, list spaces, create, invite and accept."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import requests

from devstack.processes import Process
from tests.conftest import SERVICE_KEY
from tests.devauth_fixtures import mint_token
from tests.support.auth import bearer

TIMEOUT = 10
KEY = {"X-Service-Key": SERVICE_KEY}
ORG = "/api/auth/organization"


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@devauth.test"


def register(devauth: Process, email: str | None = None, password: str = "correct horse", name: str = "Ada"):
    body = {"email": email or new_email(), "password": password, "name": name}
    return requests.post(f"{devauth.url}/api/v1/auth/register", json=body, headers=KEY, timeout=TIMEOUT)


def new_user(devauth: Process, **fields) -> dict:
    response = register(devauth, **fields)
    assert response.status_code == 200, response.text
    return response.json()["user"]


def login(devauth: Process, email: str, password: str = "correct horse") -> requests.Response:
    body = {"email": email, "password": password}
    return requests.post(f"{devauth.url}/api/v1/auth/login", json=body, headers=KEY, timeout=TIMEOUT)


def admin(token: str) -> dict[str, str]:
    """Headers of an admin call to the stand-in: the service key and the admin's token."""
    return {**KEY, **bearer(token)}


def spaces(devauth: Process, token: str) -> requests.Response:
    """GET organization/list as the token's user (in no promised order)."""
    return requests.get(f"{devauth.url}{ORG}/list", headers=bearer(token), timeout=TIMEOUT)


@dataclass(frozen=True)
class Person:
    id: str
    email: str
    token: str


def person(devauth: Process, name: str = "Ada") -> Person:
    """A registered user, logged in."""
    user = new_user(devauth, name=name)
    return Person(user["id"], user["email"], login(devauth, user["email"]).json()["token"])


def post(devauth: Process, who: Person, route: str, body: object) -> requests.Response:
    return requests.post(f"{devauth.url}{ORG}/{route}", json=body, headers=bearer(who.token), timeout=TIMEOUT)


def create(devauth: Process, who: Person, kind: str = "family", slug: str | None = None) -> requests.Response:
    slug = slug or f"space-{uuid.uuid4().hex[:12]}"
    return post(devauth, who, "create", {"name": "The Lins", "slug": slug, "metadata": {"type": kind}})


def invite(
    devauth: Process, who: Person, organization_id: str, email: str, resend: bool = False
) -> requests.Response:
    body = {"email": email, "role": "member", "organizationId": organization_id}
    if resend:
        body["resend"] = True
    return post(devauth, who, "invite-member", body)


def accept(devauth: Process, who: Person, invitation_id: str) -> requests.Response:
    return post(devauth, who, "accept-invitation", {"invitationId": invitation_id})


def shared_space(devauth: Process) -> tuple[Person, Person, dict]:
    """Two partners of one family space: the owner made it, the partner accepted."""
    owner, partner = person(devauth, "Owner"), person(devauth, "Partner")
    space = create(devauth, owner).json()
    invitation = invite(devauth, owner, space["id"], partner.email).json()
    assert accept(devauth, partner, invitation["id"]).status_code == 200
    return owner, partner, space


def forget_stand_in_users(devauth: Process, emails: list[str]) -> None:
    """Delete these users from the stand-in directly, as if they had never registered."""
    with requests.Session() as http:
        http.headers.update(admin(mint_token(devauth, role="admin")))
        for email in emails:
            found = http.get(f"{devauth.url}/api/v1/admin/users", params={"search": email}, timeout=TIMEOUT)
            found.raise_for_status()
            for user in found.json()["users"]:
                if user["email"].lower() == email.lower():
                    url = f"{devauth.url}/api/v1/admin/users/{user['id']}/data"
                    http.delete(url, timeout=TIMEOUT).raise_for_status()
