"""The persona's story so far, told compactly for the system prompt, so the persona stays
the same person from one day to the next.

It reads ticks shaped like the personas API's history answer (`GET
/internal/:id/history`: newest first; each with tickId, state, startedAt, spaceId,
tools[{toolName, result}], ratings[{module, rating, notes}]) and writes one line per day,
oldest first, within a size bound.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

MAX_DAYS = 5
NOTE_CHARS = 120
MAX_CHARS = 2000


def story_so_far(ticks: Sequence[Mapping[str, Any]]) -> str:
    """One line per earlier day, oldest first; "" when there is no earlier day."""
    lines = [day_line(tick) for tick in list(ticks)[:MAX_DAYS]]
    lines.reverse()
    text = "\n".join(line for line in lines if line)
    return text if len(text) <= MAX_CHARS else "…" + text[-(MAX_CHARS - 1) :]


def day_line(tick: Mapping[str, Any]) -> str:
    day = str(tick.get("startedAt") or "")[:10] or "an earlier day"
    parts = [f"- {day} ({tick.get('state') or 'unknown'}):"]
    parts.append(tools_used(tick.get("tools") or []))
    ratings = [r for r in tick.get("ratings") or [] if isinstance(r, Mapping)]
    if ratings:
        parts.append("rated " + "; ".join(rating_words(r) for r in ratings))
    return " ".join(parts)


def tools_used(tools: Sequence[Any]) -> str:
    """`used todo.create 2 times, notes.list (1 failed)`, in first-use order."""
    calls = [t for t in tools if isinstance(t, Mapping) and t.get("toolName")]
    if not calls:
        return "used no tools."
    counts = Counter(str(t["toolName"]) for t in calls)
    failed = Counter(str(t["toolName"]) for t in calls if t.get("result") == "error")
    words = []
    for name in dict.fromkeys(str(t["toolName"]) for t in calls):
        word = name if counts[name] == 1 else f"{name} {counts[name]} times"
        if failed[name]:
            word += f" ({failed[name]} failed)"
        words.append(word)
    return "used " + ", ".join(words) + "."


def rating_words(rating: Mapping[str, Any]) -> str:
    notes = " ".join(str(rating.get("notes") or "").split())
    if len(notes) > NOTE_CHARS:
        notes = notes[: NOTE_CHARS - 1] + "…"
    words = f"{rating.get('module')} {rating.get('rating')}/5"
    return f'{words} "{notes}"' if notes else words
