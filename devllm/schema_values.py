"""Arguments a tool's JSON Schema accepts, made up deterministically from the schema.

Covers what tool schemas use: objects (required properties, plus optional ones picked by
the seed), strings (enum, const, length bounds, date formats), numbers within bounds,
booleans, arrays (minItems), and the first branch of anyOf/oneOf. An `id` property takes
a known id when the conversation has one, so updates name real items.
"""

from __future__ import annotations

from typing import Any

WORDS = ("call the dentist", "buy oat milk", "plan the weekend", "read chapter four", "water the plants")
FORMATS = {
    "date": "2025-06-02",
    "date-time": "2025-06-02T09:30:00Z",
    "time": "09:30:00",
    "email": "someone@example.test",
    "uri": "https://example.test/",
    "uuid": "00000000-0000-4000-8000-000000000001",
}


def value_for(schema: Any, seed: int, known_id: str | None = None, name: str = "") -> Any:
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][seed % len(schema["enum"])]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return value_for(schema[key][0], seed, known_id, name)
    if schema.get("allOf"):
        return value_for({k: v for part in schema["allOf"] for k, v in part.items()}, seed, known_id, name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    make = MAKERS.get(kind)
    return make(schema, seed, known_id, name) if make else None


def _object(schema: dict, seed: int, known_id: str | None, name: str) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    chosen = [p for i, p in enumerate(properties) if p in required or (seed >> i) % 3 == 0]
    return {p: value_for(properties[p], seed + i, known_id, p) for i, p in enumerate(chosen)}


def _string(schema: dict, seed: int, known_id: str | None, name: str) -> str:
    if known_id and (name == "id" or name.endswith("Id")):
        return known_id
    text = FORMATS.get(schema.get("format", ""), WORDS[seed % len(WORDS)].capitalize())
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    text = text.ljust(low, ".")
    return text[:high] if high is not None else text


def _integer(schema: dict, seed: int, known_id: str | None, name: str) -> int:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + ("exclusiveMinimum" in schema))
    high = schema.get("maximum", schema.get("exclusiveMaximum", low + 10) - ("exclusiveMaximum" in schema))
    return int(low + seed % (max(high - low, 0) + 1))


def _number(schema: dict, seed: int, known_id: str | None, name: str) -> float:
    return float(_integer(schema, seed, known_id, name))


def _array(schema: dict, seed: int, known_id: str | None, name: str) -> list[Any]:
    count = max(schema.get("minItems", 0), 1 if schema.get("maxItems", 1) >= 1 else 0)
    return [value_for(schema.get("items", {}), seed + i, known_id, name) for i in range(count)]


MAKERS = {
    "object": _object,
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": lambda schema, seed, known_id, name: seed % 2 == 0,
    "array": _array,
    "null": lambda schema, seed, known_id, name: None,
}
