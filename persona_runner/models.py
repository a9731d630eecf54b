"""The shapes the runner passes around: a due persona, a logged-in session, and what a
driver did in a tick (actions and ratings), with their JSON for the internal routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from apibase.client_errors import UnexpectedResponse

# The service's caps: a longer value would make the whole batch a 400, so the runner
# trims rather than lose a tick's worth of rows.
from apibase.limits import ACTIONS_MAX, FEEDBACK_MAX, HASH_MAX, NAME_MAX, TEXT_MAX
from persona_runner.errors import DriverFailed
from persona_runner.transcript import Transcript
from persona_runner.usage import Usage


@dataclass(frozen=True)
class Persona:
    user_id: str
    email: str
    archetype: str
    system_prompt: str
    module_mix: dict[str, float]

    @classmethod
    def from_json(cls, row: Any) -> Persona:
        """A row of /due or /claims; a row without id or email is a broken server."""
        if not isinstance(row, dict) or not row.get("userId") or not row.get("email"):
            raise UnexpectedResponse(f"a persona row without userId or email: {str(row)[:200]}")
        mix = row.get("moduleMix") if isinstance(row.get("moduleMix"), dict) else {}
        return cls(
            user_id=str(row["userId"]),
            email=str(row["email"]),
            archetype=str(row.get("archetype", "")),
            system_prompt=str(row.get("systemPrompt", "")),
            module_mix={str(k): float(v) for k, v in mix.items() if is_number(v)},
        )


@dataclass(frozen=True)
class Session:
    """A persona logged in to mana-auth, in its personal space, for one tick."""

    tick_id: str
    user_id: str
    space_id: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class Action:
    tool_name: str
    result: Literal["ok", "error"]
    latency_ms: int | None = None
    input_hash: str | None = None
    error_message: str | None = None

    def to_json(self, tick_id: str) -> dict[str, Any]:
        row: dict[str, Any] = {"tickId": tick_id, "toolName": clean(self.tool_name, NAME_MAX)}
        row["result"] = self.result
        if self.latency_ms is not None:
            row["latencyMs"] = max(0, int(self.latency_ms))
        if self.input_hash is not None:
            row["inputHash"] = clean(self.input_hash, HASH_MAX)
        if self.error_message is not None:
            row["errorMessage"] = clean(self.error_message, TEXT_MAX)
        return row


@dataclass(frozen=True)
class Rating:
    module: str
    rating: int
    notes: str | None = None

    def to_json(self, tick_id: str) -> dict[str, Any]:
        row: dict[str, Any] = {"tickId": tick_id, "module": clean(self.module, NAME_MAX)}
        row["rating"] = self.rating
        if self.notes is not None:
            row["notes"] = clean(self.notes, TEXT_MAX)
        return row


@dataclass
class TickOutcome:
    """What a driver did in a tick. The caller may own it and hand it in: a driver adds
    each action (and its transcript event) as the product answers and each request's
    usage (and its text) as the model answers,
    so a tick stopped or failed half-way still tells what it did and what it cost."""

    actions: list[Action] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    driver: str | None = None
    # Product tools left out of the model's tools (an input schema it cannot take).
    tools_skipped: int = 0
    # What was said and called, in order, for the tick's transcript.
    transcript: Transcript = field(default_factory=Transcript)
    # The product's MCP serverInfo at the handshake ({"name", "version"}), when it said.
    product: dict[str, str] | None = None

    def check(self) -> None:
        """Refuse what the service would refuse, before anything is posted.

        Batches are not split: an action's key holds its index in the batch, so two
        batches of one tick would collide.
        """
        if len(self.actions) > ACTIONS_MAX:
            raise DriverFailed(f"{len(self.actions)} actions in one tick; the API takes {ACTIONS_MAX}")
        if len(self.ratings) > FEEDBACK_MAX:
            raise DriverFailed(f"{len(self.ratings)} ratings in one tick; the API takes {FEEDBACK_MAX}")
        for i, action in enumerate(self.actions):
            if not action.tool_name or action.result not in ("ok", "error"):
                raise DriverFailed(f"action {i} needs a tool name and a result of ok or error")
        for i, rating in enumerate(self.ratings):
            if not rating.module or type(rating.rating) is not int or not 1 <= rating.rating <= 5:
                raise DriverFailed(
                    f"rating {i} needs a module and a whole number 1..5, got {rating.rating!r}"
                )


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def clean(value: str, limit: int) -> str:
    """Without NUL (PostgreSQL text cannot hold it), within the service's cap."""
    return value.replace("\x00", "")[:limit]
