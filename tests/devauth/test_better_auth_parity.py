"""devauth's organization routes held against a stock Better Auth: the same steps, written
once, run against both, and every answer compared by status, error `code` and body shape
(the keys present and the type of each value; ids and times differ by nature)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from devstack.processes import Process
from persona_runner.spaces import space_type
from tests.support.auth import bearer
from tests.support.standin import ORG, TIMEOUT, Person
from tests.support.standin import person as devauth_person


class Side:
    """One server the steps run against: how its users are made, and its organization routes."""

    def __init__(self, server: Process) -> None:
        self.server = server
        # Better Auth checks the Origin of state-changing calls; devauth ignores it.
        self.origin = {"Origin": server.url}

    def person(self, name: str) -> Person:
        raise NotImplementedError

    def post(self, who: Person, route: str, body: dict) -> requests.Response:
        url = f"{self.server.url}{ORG}/{route}"
        return requests.post(url, json=body, headers={**self.origin, **bearer(who.token)}, timeout=TIMEOUT)

    def get(self, who: Person, route: str, **params: str) -> requests.Response:
        url = f"{self.server.url}{ORG}/{route}"
        return requests.get(url, params=params, headers={**self.origin, **bearer(who.token)}, timeout=TIMEOUT)


class DevAuth(Side):
    def person(self, name: str) -> Person:
        return devauth_person(self.server, name)  # its register, then its login


class BetterAuth(Side):
    def person(self, name: str) -> Person:
        """Signed up through Better Auth's own route; its bearer plugin hands the session token."""
        email = f"{name.lower()}-{uuid.uuid4().hex[:10]}@parity.test"
        body = {"email": email, "password": "correct horse battery", "name": name}
        answer = requests.post(
            f"{self.server.url}/api/auth/sign-up/email", json=body, headers=self.origin, timeout=TIMEOUT
        )
        assert answer.status_code == 200, answer.text
        return Person(answer.json()["user"]["id"], email, answer.headers["set-auth-token"])


def shape(value: Any) -> Any:
    """The keys and value types of a JSON answer (a list by its first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@dataclass(frozen=True)
class Outcome:
    step: str
    status: int
    code: str | None
    shape: Any
    facts: dict = field(default_factory=dict)


def later(after: str, before: str) -> bool:
    return datetime.fromisoformat(after) > datetime.fromisoformat(before)


def run_steps(side: Side) -> list[Outcome]:
    """The steps a pair's space goes through, and the refusals around them."""
    owner, partner, outsider = side.person("Owner"), side.person("Partner"), side.person("Outsider")
    names = {owner.id: "owner", partner.id: "partner"}
    outcomes: list[Outcome] = []

    def step(name: str, response: requests.Response, body: Any = None, **facts: Any) -> Any:
        answer = response.json() if response.content else None
        code = answer.get("code") if response.status_code >= 400 and isinstance(answer, dict) else None
        outcomes.append(
            Outcome(name, response.status_code, code, shape(answer if body is None else body), facts)
        )
        return answer

    def invite(who: Person, email: str, **extra: Any) -> requests.Response:
        return side.post(
            who, "invite-member", {"email": email, "role": "member", "organizationId": space["id"], **extra}
        )

    slug = f"parity-{uuid.uuid4().hex[:10]}"
    new_space = {"name": "The Parities", "slug": slug, "metadata": {"type": "family"}}
    space = step("create", side.post(owner, "create", new_space))
    step("create with a taken slug", side.post(outsider, "create", new_space))
    step(
        "create without a name",
        side.post(owner, "create", {"slug": f"{slug}-x", "metadata": {"type": "team"}}),
    )

    first = step("invite", invite(owner, partner.email))
    step("invite a pending invitee again", invite(owner, partner.email))
    resent = invite(owner, partner.email, resend=True)
    step(
        "invite a pending invitee again with resend",
        resent,
        sameInvitation=resent.json().get("id") == first["id"],
        laterExpiry=later(resent.json().get("expiresAt"), first["expiresAt"]),
    )
    step("invite by an outsider", invite(outsider, outsider.email))
    step("accept by an outsider", side.post(outsider, "accept-invitation", {"invitationId": first["id"]}))
    step("accept by the invitee", side.post(partner, "accept-invitation", {"invitationId": first["id"]}))
    step("accept twice", side.post(partner, "accept-invitation", {"invitationId": first["id"]}))
    step("invite a member", invite(owner, partner.email))
    step("invite as a plain member", invite(partner, outsider.email))

    listed = side.get(partner, "list")
    [entry] = [s for s in listed.json() if s["id"] == space["id"]]
    step("list", listed, body=entry, type=space_type(entry["metadata"]))
    step(
        "full organization as an outsider",
        side.get(outsider, "get-full-organization", organizationId=space["id"]),
    )
    whole = side.get(owner, "get-full-organization", organizationId=space["id"])
    step(
        "full organization as the owner",
        whole,
        members={names[m["userId"]]: m["role"] for m in whole.json()["members"]},
    )
    unknown = str(uuid.uuid4())
    step(
        "full organization of an unknown id", side.get(owner, "get-full-organization", organizationId=unknown)
    )
    step("accept an unknown invitation", side.post(partner, "accept-invitation", {"invitationId": unknown}))
    return outcomes


# What stock Better Auth 1.7 answers each refusal: the contract's "as stock answers them".
REFUSALS = {
    "create with a taken slug": (400, "ORGANIZATION_ALREADY_EXISTS"),
    "create without a name": (400, "VALIDATION_ERROR"),
    "invite a pending invitee again": (400, "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION"),
    "invite by an outsider": (400, "MEMBER_NOT_FOUND"),
    "accept by an outsider": (403, "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION"),
    "accept twice": (400, "INVITATION_NOT_FOUND"),
    "invite a member": (400, "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION"),
    "invite as a plain member": (403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION"),
    "full organization as an outsider": (403, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"),
    "full organization of an unknown id": (400, "ORGANIZATION_NOT_FOUND"),
    "accept an unknown invitation": (400, "INVITATION_NOT_FOUND"),
}


def without_details(outcome: Outcome) -> Outcome:
    """devauth's validation refusals also name each field under `details`, beyond Better Auth's."""
    if outcome.code == "VALIDATION_ERROR" and isinstance(outcome.shape, dict):
        return Outcome(
            outcome.step,
            outcome.status,
            outcome.code,
            {k: v for k, v in outcome.shape.items() if k != "details"},
        )
    return outcome


def test_devauth_answers_each_step_as_stock_better_auth_does(devauth, better_auth):
    real = run_steps(BetterAuth(better_auth))
    ours = [without_details(o) for o in run_steps(DevAuth(devauth))]
    assert {o.step: (o.status, o.code) for o in real if o.status >= 400} == REFUSALS
    assert all(o.shape == {"code": "str", "message": "str"} for o in real if o.status >= 400)
    assert {o.step: o.facts for o in real if o.facts} == {
        "invite a pending invitee again with resend": {"sameInvitation": True, "laterExpiry": True},
        "list": {"type": "family"},
        "full organization as the owner": {"members": {"owner": "owner", "partner": "member"}},
    }
    for theirs, mine in zip(real, ours, strict=True):
        assert mine == theirs, f"devauth differs from Better Auth at {theirs.step!r}"
