"""Which product tools the model can be given. The Messages API refuses a whole request
when one tool's input schema is not valid JSON Schema (draft 2020-12), so one broken tool
in the product would fail every tick; such tools are left out instead."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft202012Validator, SchemaError


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why `schema` cannot be given to the model as a tool's input schema; None if it can."""
    if schema.get("type") != "object":
        return "the input schema is not of type object"
    return checked(json.dumps(schema, sort_keys=True, separators=(",", ":")))


@functools.lru_cache(maxsize=4096)
def checked(canonical: str) -> str | None:
    """`check` of a schema by its canonical JSON, once per process: every tick lists the
    same tools, and checking a schema against the metaschema takes milliseconds."""
    return check(json.loads(canonical))


def check(schema: dict[str, Any]) -> str | None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"not JSON Schema 2020-12: {exc.message[:200]}"
    return None


def usable_tools(tools: Sequence[Any]) -> tuple[list[Any], dict[str, str]]:
    """The tools whose input schema the model can take, and the others with the reason."""
    usable, skipped = [], {}
    for tool in tools:
        problem = schema_problem(tool.input_schema)
        if problem is None:
            usable.append(tool)
        else:
            skipped[tool.name] = problem
    return usable, skipped
