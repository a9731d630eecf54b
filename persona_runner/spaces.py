"""Which space a persona acts in for one tick.

The rule, for a persona that belongs to a shared space (a pair's family or team space):
it acts in the shared space unless its newest finished tick was already there, so its
ticks alternate shared, personal, shared, ... counted from its own history, and its
first tick is in the shared space. A persona with no shared space always acts in its
personal one. With several shared spaces the oldest is the one (earliest `createdAt`,
then the smallest id): mana-auth lists spaces in no promised order, and the choice must
not change from one tick to the next.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from persona_runner.errors import NoPersonalSpace

PERSONAL = "personal"


@dataclass(frozen=True)
class Space:
    id: str
    name: str
    type: str | None = None
    slug: str | None = None
    created_at: datetime | None = None

    @property
    def shared(self) -> bool:
        return self.type != PERSONAL

    def age_key(self) -> tuple[datetime, str]:
        """Oldest first; a space without a readable `createdAt` after every dated one."""
        return (self.created_at or datetime.max.replace(tzinfo=UTC), self.id)


def space_type(metadata: Any) -> str | None:
    """metadata is an object, or (some mana-auth builds) that object as a JSON string."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    return metadata.get("type") if isinstance(metadata, dict) else None


def created_at(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (`...Z` or with an offset) as an aware datetime, else None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def spaces_of(items: Sequence[Any]) -> list[Space]:
    """mana-auth's organization list as spaces, in its order; rows without an id are dropped."""
    return [
        Space(
            id=str(item["id"]),
            name=str(item.get("name", "")),
            type=space_type(item.get("metadata")),
            slug=item.get("slug") if isinstance(item.get("slug"), str) else None,
            created_at=created_at(item.get("createdAt")),
        )
        for item in items
        if isinstance(item, dict) and item.get("id")
    ]


def personal_space(spaces: Sequence[Space]) -> Space:
    for space in spaces:
        if space.type == PERSONAL:
            return space
    raise NoPersonalSpace("mana-auth lists no personal space for this persona")


def choose_space(spaces: Sequence[Space], story: Sequence[Mapping[str, Any]]) -> Space:
    """The space of this tick by the rule above; `story` is the persona's finished
    ticks, newest first, as the personas API's history answers them."""
    personal = personal_space(spaces)
    shared_spaces = [s for s in spaces if s.type is not None and s.shared]
    if not shared_spaces:
        return personal
    shared = min(shared_spaces, key=Space.age_key)
    last_space = story[0].get("spaceId") if story else None
    return personal if last_space == shared.id else shared
