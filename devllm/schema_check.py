"""Whether a tool's input schema is JSON Schema (draft 2020-12), as both APIs check it.
Once per distinct schema: every request of a day sends the same tools, and checking one
against the metaschema takes milliseconds, which would make the stand-in slower than
the model it stands in for."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator, SchemaError


def schema_problem(schema: dict[str, Any]) -> str | None:
    """The metaschema's complaint about `schema`, None when it is valid."""
    return _problem(json.dumps(schema, sort_keys=True, separators=(",", ":")))


@functools.lru_cache(maxsize=4096)
def _problem(canonical: str) -> str | None:
    try:
        Draft202012Validator.check_schema(json.loads(canonical))
    except SchemaError as exc:
        return exc.message
    return None
