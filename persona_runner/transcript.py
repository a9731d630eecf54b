"""A tick's transcript, collected as the tick goes: what the persona said, each call with
the arguments sent and the output the model saw, then the ratings and the error that
stopped the tick. `body()` is what `PUT .../ticks/:tickId/transcript` takes, within the
API's caps, so a long answer is cut (saying so at the cut) rather than the whole
transcript refused.

Nothing secret goes in: the session's token, the password and the headers never reach
it; only what the model and the product said.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apibase.limits import (
    CALL_OUTPUT_MAX,
    MODEL_TEXT_MAX,
    NAME_MAX,
    STEP_MAX,
    TEXT_MAX,
    TICK_ERROR_MAX,
    TRANSCRIPT_BYTES_MAX,
)

if TYPE_CHECKING:
    from persona_runner.models import Rating

# Outputs are never cut below this to make a body fit; a body still too big is refused.
OUTPUT_FLOOR = 500


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, without NUL (the API refuses it); a longer one
    keeps its start and ends with a note saying how much was left out."""
    text = text.replace("\x00", "")
    if len(text) <= limit:
        return text
    note = f"\n[cut here: {len(text):,} characters, the first {{kept:,}} shown]"
    kept = max(0, limit - len(note.format(kept=limit)))
    return text[:kept] + note.format(kept=kept)


def shown_text(blocks: Iterable[dict[str, Any]]) -> str:
    """The tool result's content blocks as the model read them: text as text, an image by
    its media type."""
    parts = []
    for block in blocks:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        else:
            media = block.get("source", {}).get("media_type", "")
            parts.append(f"[{block.get('type', 'content')}{f' {media}' if media else ''}]")
    return "\n".join(parts)


@dataclass
class Transcript:
    """The events so far, in order; the driver adds what was said and called. A call's
    output is kept whole until `body()` cuts it."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def said(self, text: str) -> None:
        if text.strip():
            self.events.append({"kind": "model", "text": cut(text, MODEL_TEXT_MAX)})

    def called(
        self,
        tool: str,
        arguments: dict[str, Any],
        failed: bool,
        output: str | None,
        latency_ms: int | None,
    ) -> None:
        """One call the product was sent; `output` and `latency_ms` None when the tick
        was stopped before it answered."""
        self.events.append(
            {
                "kind": "call",
                "tool": cut(tool, NAME_MAX),
                "arguments": arguments,
                "result": "error" if failed else "ok",
                "output": output,
                "latencyMs": None if latency_ms is None else max(0, int(latency_ms)),
            }
        )

    def body(self, ratings: list[Rating], stopped: tuple[str, str] | None) -> dict[str, Any]:
        """The PUT body: the events, the ratings given, and (`step`, `message`) of the
        failure that stopped the tick, if one did.

        Each output is cut at the API's cap; should the body still pass its size cap
        (a day of many long answers), every output is cut shorter, down to OUTPUT_FLOOR.
        Outputs are what grows: the model's text and arguments are bounded by its
        answers' token limits."""
        ending = []
        if ratings:
            given = [
                {
                    "module": cut(r.module, NAME_MAX),
                    "rating": r.rating,
                    "notes": None if r.notes is None else cut(r.notes, TEXT_MAX),
                }
                for r in ratings
            ]
            ending.append({"kind": "ratings", "ratings": given})
        if stopped is not None:
            step, message = stopped
            ending.append(
                {"kind": "error", "step": cut(step, STEP_MAX), "message": cut(message, TICK_ERROR_MAX)}
            )
        limit = CALL_OUTPUT_MAX
        while True:
            body = {"events": [*(with_output_cut(e, limit) for e in self.events), *ending]}
            if limit <= OUTPUT_FLOOR or size(body) <= TRANSCRIPT_BYTES_MAX:
                return body
            limit = max(OUTPUT_FLOOR, limit // 2)


def with_output_cut(event: dict[str, Any], limit: int) -> dict[str, Any]:
    if event["kind"] != "call" or event["output"] is None:
        return event
    return {**event, "output": cut(event["output"], limit)}


def size(body: dict[str, Any]) -> int:
    """Its bytes as JSON, as the API counts them."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
