"""The product's tools: `<module>.<verb>` over one generic item store per module, plus
`spaces.list`. Each tool has a JSON-Schema input; items live per space, so everyone in a
space sees them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jsonschema
import mcp_types as types
import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from devmcp.auth import Caller
from devmcp.db import queries

TITLE = {"type": "string", "minLength": 1, "maxLength": 200}
BODY = {"type": "string", "maxLength": 2000}
ITEM_ID = {"type": "string", "minLength": 1, "maxLength": 64, "description": "an id list or create gave"}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 50}
FIELDS = {"type": "object", "description": "module-specific fields, kept as given", "maxProperties": 20}


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


# verb -> (description template, input schema, writes?)
VERBS: dict[str, tuple[str, dict[str, Any]]] = {
    "create": (
        "Create a {module} item in the current space.",
        _schema({"title": TITLE, "body": BODY, "fields": FIELDS}, ["title"]),
    ),
    "list": (
        "List the current space's {module} items, newest first.",
        _schema({"includeDone": {"type": "boolean"}, "limit": LIMIT}, []),
    ),
    "update": (
        "Change the title, body or fields of a {module} item.",
        _schema({"id": ITEM_ID, "title": TITLE, "body": BODY, "fields": FIELDS}, ["id"]),
    ),
    "complete": ("Mark a {module} item as done.", _schema({"id": ITEM_ID}, ["id"])),
}
SPACES_LIST = "spaces.list"
SPACES_POST = "spaces.post"


def tool_list(modules: tuple[str, ...]) -> list[types.Tool]:
    tools = [
        types.Tool(
            name=SPACES_LIST,
            description="List the spaces you belong to (id, name, and whether it is the current one).",
            input_schema=_schema({}, []),
        ),
        types.Tool(
            name=SPACES_POST,
            description="Post a message to the current space's board, for everyone in the space.",
            input_schema=_schema({"title": TITLE, "body": BODY}, ["title"]),
        ),
    ]
    for module in modules:
        for verb, (description, schema) in VERBS.items():
            tools.append(
                types.Tool(
                    name=f"{module}.{verb}",
                    description=description.format(module=module),
                    input_schema=schema,
                )
            )
    return tools


class ToolError(Exception):
    """A tool call the product refuses; its text goes back as the result with isError."""


class Tools:
    def __init__(self, modules: tuple[str, ...], pool: AsyncConnectionPool, spaces_of) -> None:
        self.tools = {tool.name: tool for tool in tool_list(modules)}
        self.pool = pool
        self.spaces_of = spaces_of

    async def call(self, name: str, arguments: dict[str, Any], caller: Caller, token: str) -> Any:
        """The tool's answer (JSON-able), or ToolError with a message naming the tool."""
        tool = self.tools.get(name)
        if tool is None:
            raise ToolError(f"{name}: no such tool")
        try:
            jsonschema.validate(arguments, tool.input_schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "input"
            raise ToolError(f"{name}: invalid {where}: {exc.message}") from None
        if name == SPACES_LIST:
            return await self._spaces(caller, token)
        module, _, verb = name.partition(".")
        if name == SPACES_POST:
            verb = "create"
        try:
            async with self.pool.connection() as conn:
                return await getattr(self, f"_{verb}")(conn, module, arguments, caller)
        except (psycopg.Error, TimeoutError) as exc:
            raise ToolError(f"{name}: the store did not answer ({type(exc).__name__})") from None

    async def _spaces(self, caller: Caller, token: str) -> dict[str, Any]:
        spaces = await self.spaces_of(token)
        return {
            "spaces": [
                {"id": s["id"], "name": s.get("name"), "current": s["id"] == caller.space_id} for s in spaces
            ]
        }

    async def _create(self, conn, module: str, args: dict, caller: Caller) -> dict[str, Any]:
        item = await queries.items.insert_item(
            conn,
            id=str(uuid.uuid4()),
            space_id=caller.space_id,
            module=module,
            title=args["title"],
            body=args.get("body", ""),
            fields=Jsonb(args.get("fields", {})),
            created_by=caller.user_id,
        )
        return {"item": item}

    async def _list(self, conn, module: str, args: dict, caller: Caller) -> dict[str, Any]:
        items = await queries.items.list_items(
            conn,
            space_id=caller.space_id,
            module=module,
            include_done=args.get("includeDone", False),
            limit=args.get("limit", 20),
        )
        return {"items": items}

    async def _update(self, conn, module: str, args: dict, caller: Caller) -> dict[str, Any]:
        fields = args.get("fields")
        item = await queries.items.update_item(
            conn,
            id=args["id"],
            space_id=caller.space_id,
            module=module,
            title=args.get("title"),
            body=args.get("body"),
            fields=Jsonb(fields) if fields is not None else None,
        )
        return self._found(module, "update", args["id"], item)

    async def _complete(self, conn, module: str, args: dict, caller: Caller) -> dict[str, Any]:
        item = await queries.items.complete_item(conn, id=args["id"], space_id=caller.space_id, module=module)
        return self._found(module, "complete", args["id"], item)

    @staticmethod
    def _found(module: str, verb: str, item_id: str, item: dict | None) -> dict[str, Any]:
        if item is None:
            raise ToolError(f"{module}.{verb}: no {module} item {item_id} in this space")
        return {"item": item}


def as_text(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"not JSON: {type(value).__name__}")
