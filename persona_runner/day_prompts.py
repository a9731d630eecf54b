"""What the model is told: who it is today (system prompt), what to do (the opening user
turn, naming its favoured modules by weight), and, after the day, to rate what it used."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from persona_runner.models import Persona
from persona_runner.story import story_so_far

MIN_TOOLS, MAX_TOOLS = 3, 8


def system_prompt(persona: Persona, today: date, story: Sequence[Mapping[str, Any]] = ()) -> str:
    parts = [persona.system_prompt.strip() or f"You are {persona.email}, a user of the Mana app."]
    parts.append(f"Today is {today:%A, %d %B %Y} ({today.isoformat()}).")
    told = story_so_far(story)
    if told:
        parts.append("Your earlier days in the app, oldest first:\n" + told)
    parts.append(
        "You act only through the tools you are given; each answer ends with how long the call "
        "took, as you would notice it. Behave as this person would, and stay in character."
    )
    return "\n\n".join(parts)


def favoured_modules(module_mix: Mapping[str, float]) -> str:
    """`todo (50%), notes (30%), calendar (20%)`: positive weights, heaviest first, ties by name."""
    weighted = sorted(((m, w) for m, w in module_mix.items() if w > 0), key=lambda mw: (-mw[1], mw[0]))
    total = sum(w for _, w in weighted) or 1.0
    return ", ".join(f"{m} ({round(100 * w / total)}%)" for m, w in weighted)


def opening_turn(persona: Persona) -> str:
    favoured = favoured_modules(persona.module_mix)
    lead = f"Spend a short day in the app: use {MIN_TOOLS} to {MAX_TOOLS} tools, the way you would."
    if favoured:
        lead += f" You favour these modules, by weight: {favoured}."
    return lead + " When you are done, say so in one sentence."


def ratings_request(modules: Sequence[str]) -> str:
    return (
        f"Your day is over. Rate each module you used ({', '.join(modules)}) from 1 to 5 with "
        "submit_ratings, with a short note on what worked or got in your way."
    )
