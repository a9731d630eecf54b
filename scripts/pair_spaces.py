"""The catalog pairs' shared spaces in mana-auth, made as a person makes one: each
partner logs in with its own password, one creates the space, invites the other by
email, and the other accepts.

Idempotent: a space is known by its slug (derived from the pair, so every run and either
partner's list agree on it); a run that finds it with both partners as members changes
nothing, and one that finds an invitation still pending has it answered and accepted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from apibase.client_errors import AuthError, ExpectedError, NetworkError, StatusError
from persona_runner.auth_client import AuthClient, Login
from persona_runner.password import persona_password
from scripts.catalog import CatalogPersona, pairs

SLUG_MAX = 64  # mana-auth's slug limit
NAME_MAX = 100
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class PairSpace:
    creator: str  # the pair's first persona in the catalog: it creates the space and invites
    partner: str
    space_type: str
    name: str

    @property
    def slug(self) -> str:
        return space_slug(self.creator, self.partner, self.space_type)

    def label(self) -> str:
        return f"{self.space_type}, {self.creator} + {self.partner}"


class SpaceFailed(ExpectedError):
    """This pair's space could not be made; the message is its line's reason."""


def space_slug(email: str, partner: str, space_type: str) -> str:
    """`family-lena-hoffmann-noah-hoffmann`: the type and both local parts, in sorted order
    so that reordering the catalog never makes a second space; a hash keeps long ones unique."""
    locals_ = [_NOT_SLUG.sub("-", e.split("@")[0].lower()).strip("-") for e in sorted((email, partner))]
    slug = "-".join([space_type, *locals_])
    if len(slug) <= SLUG_MAX:
        return slug
    digest = hashlib.sha256("\n".join(sorted((email, partner))).encode()).hexdigest()[:10]
    return f"{slug[: SLUG_MAX - len(digest) - 1].rstrip('-')}-{digest}"


def pair_spaces(personas: list[CatalogPersona]) -> list[PairSpace]:
    """One space per pair, in catalog order (the loader has checked that pairs match)."""
    names = {p.email: p.name for p in personas}
    return [
        PairSpace(creator, partner, space_type, f"{names[creator]} & {names[partner]}"[:NAME_MAX])
        for creator, partner, space_type in pairs(personas)
    ]


class SpaceMaker:
    """Makes pair spaces through one mana-auth client, logging each persona in once."""

    def __init__(self, auth: AuthClient, secret: str) -> None:
        self.auth = auth
        self.secret = secret
        self.logins: dict[str, Login] = {}

    def make(self, pair: PairSpace) -> tuple[str, str]:
        """(outcome, space id): "created", "joined" (a pending invitation accepted) or "exists".
        SpaceFailed for what fails this pair only; NetworkError when mana-auth is away."""
        creator, partner = self.login(pair.creator), self.login(pair.partner)
        space_id, holder = self.find(pair, creator, partner)
        created = space_id is None
        if space_id is None:
            space_id, holder = self.create(pair, creator, partner)
        joiner = partner if holder is creator else creator
        members = {m.get("userId") for m in self.auth.full_space(holder.token, space_id)["members"]}
        if joiner.user_id in members:
            return ("created" if created else "exists"), space_id
        joiner_email = pair.partner if joiner is partner else pair.creator
        invitation = self.auth.invite_member(holder.token, space_id, joiner_email)
        self.auth.accept_invitation(joiner.token, str(invitation.get("id", "")))
        return ("created" if created else "joined"), space_id

    def login(self, email: str) -> Login:
        if email not in self.logins:
            try:
                self.logins[email] = self.auth.login(email, persona_password(email, self.secret))
            except AuthError as exc:
                raise SpaceFailed(
                    f"{email} cannot log in ({exc.detail}): was it seeded with another PERSONA_SEED_SECRET?"
                ) from None
        return self.logins[email]

    def find(self, pair: PairSpace, creator: Login, partner: Login) -> tuple[str | None, Login]:
        """The id of the space with the pair's slug, and a partner who belongs to it (the
        creator first)."""
        for who in (creator, partner):
            for space in self.auth.spaces(who.token):
                if space.slug == pair.slug:
                    return space.id, who
        return None, creator

    def create(self, pair: PairSpace, creator: Login, partner: Login) -> tuple[str, Login]:
        try:
            space = self.auth.create_space(creator.token, pair.name, pair.slug, pair.space_type)
        except StatusError as exc:
            if exc.status not in (400, 409):
                raise
            # The slug is taken: a run racing this one made it, or a stranger holds it.
            found, holder = self.find(pair, creator, partner)
            if found is None:
                raise SpaceFailed(
                    f"the slug is taken by a space neither partner belongs to ({exc.detail})"
                ) from None
            return found, holder
        if not space.get("id"):
            raise SpaceFailed(f"create answered without an id: {str(space)[:200]}")
        return str(space["id"]), creator


def make_spaces(
    auth: AuthClient, secret: str, spaces: list[PairSpace], upserted: set[str]
) -> tuple[dict[str, int], str | None]:
    """One line per space; (counts by outcome, why the step stopped early or None)."""
    maker = SpaceMaker(auth, secret)
    counts = {"created": 0, "joined": 0, "exists": 0, "failed": 0}
    for index, pair in enumerate(spaces):
        missing = [e for e in (pair.creator, pair.partner) if e not in upserted]
        try:
            if missing:
                raise SpaceFailed(
                    f"{' and '.join(missing)} not upserted (see above), so the pair has no space"
                )
            outcome, space_id = maker.make(pair)
        except NetworkError as exc:
            # Every space after this one would fail the same way: say it once and stop.
            counts["failed"] += len(spaces) - index
            return counts, f"cannot reach mana-auth at {auth.http.base_url} ({exc.reason}); is it running?"
        except ExpectedError as exc:
            counts["failed"] += 1
            reason = f"{exc.method} {exc.url}: {exc.detail}" if isinstance(exc, StatusError) else str(exc)
            print(f"space    {pair.slug}  failed: {reason}")
            continue
        counts[outcome] += 1
        print(f"space    {pair.slug}  {outcome}, both members  ({pair.label()}; space {space_id})")
    return counts, None
