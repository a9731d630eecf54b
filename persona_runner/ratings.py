"""The `submit_ratings` tool: its input schema for the model, and the strict check of
what the model sent back. Ratings come only from this tool's input, never from prose."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from persona_runner.errors import RatingsRefused
from persona_runner.models import Rating

RATINGS_TOOL = "submit_ratings"
NOTES_MAX = 1000
SHOWN_MAX = 300


def module_of(product_tool: str) -> str:
    """`todo.create` -> `todo`: the part before the first `.`."""
    return product_tool.split(".", 1)[0]


def ratings_tool(modules: Sequence[str]) -> dict[str, Any]:
    """The tool the model is forced to call after its day; `module` is one of exactly `modules`."""
    rating = {
        "type": "object",
        "properties": {
            "module": {"type": "string", "enum": list(modules)},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "notes": {"type": "string", "maxLength": NOTES_MAX},
        },
        "required": ["module", "rating", "notes"],
        "additionalProperties": False,
    }
    return {
        "name": RATINGS_TOOL,
        "description": "Rate each module you used today from 1 (awful) to 5 (great), with a short note why.",
        "input_schema": {
            "type": "object",
            "properties": {"ratings": {"type": "array", "items": rating, "minItems": 1}},
            "required": ["ratings"],
            "additionalProperties": False,
        },
    }


class RatingIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    module: str
    rating: Annotated[int, Field(ge=1, le=5)]
    notes: Annotated[str, StringConstraints(max_length=NOTES_MAX)]


class RatingsIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    ratings: Annotated[list[RatingIn], Field(min_length=1)]


def parse_ratings(tool_input: Any, modules: Sequence[str]) -> list[Rating]:
    """The ratings in `submit_ratings`'s input, or RatingsRefused naming what came back."""
    try:
        parsed = RatingsIn.model_validate(tool_input)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "input"
        raise RatingsRefused(f"submit_ratings {where}: {first['msg']}; got {shown(tool_input)}") from None
    seen: set[str] = set()
    for i, item in enumerate(parsed.ratings):
        if item.module not in modules:
            raise RatingsRefused(
                f"submit_ratings ratings.{i}.module: {item.module!r} is not a module used today "
                f"({', '.join(modules)}); got {shown(tool_input)}"
            )
        if item.module in seen:
            raise RatingsRefused(f"submit_ratings ratings.{i}.module: {item.module!r} is rated twice")
        seen.add(item.module)
    return [Rating(item.module, item.rating, item.notes) for item in parsed.ratings]


def shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1] + "…"
