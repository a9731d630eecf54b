"""GET /api/v1/personas/openapi.json: the OpenAPI 3.1 document of every route.

Request schemas come from the very models that validate requests (personas.validation),
response schemas from personas.responses; tests hold the document to the app's url map,
so a route cannot exist undocumented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from pydantic import BaseModel

from personas import responses as out
from personas import validation as req

bp = Blueprint("openapi", __name__)

INTERNAL = "/api/v1/personas/internal"
ADMIN = "/api/v1/personas/admin"
SERVICE_KEY = [{"serviceKey": []}]
ADMIN_JWT = [{"adminJwt": []}]

ERRORS = {
    400: "Invalid input; `details` names every field at fault (with the row index for batches).",
    401: "Missing or invalid credentials.",
    403: "A valid token without the admin role.",
    404: "No such persona, lease or route.",
    409: "Conflicts with the current state (another runner's lease, another user's email,"
    " a tick that finished otherwise).",
    413: "The request body is over MAX_BODY_BYTES.",
    414: "The request line (path and query) is longer than the web server reads.",
    431: "The request headers are larger than the web server reads.",
    500: "An error on our side; carries `requestId`, no internals.",
    502: "mana-auth failed; `step` says which call (find, register, stamp, delete).",
    503: "PostgreSQL (or mana-auth's signing keys) unreachable, or the schema not migrated.",
    504: "mana-auth did not answer in time; `step` says which call.",
}
# Any request can meet these: the web server refuses an oversized request line or headers
# before the route is known, and the database can be away.
ALWAYS = (414, 431, 500, 503)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    ok: type[BaseModel] | None
    security: list | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    ok_status: int = 200
    content_type: str = "application/json"
    tags: tuple[str, ...] = field(default=())


OPERATIONS = [
    Operation("get", "/health", "The process is up.", out.Ok, tags=("operations",)),
    Operation(
        "get", "/ready", "The database answers and its schema is migrated.", out.Ready, tags=("operations",)
    ),
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics, summed over every worker.",
        None,
        content_type="text/plain",
        tags=("operations",),
    ),
    Operation("get", "/api/v1/personas/openapi.json", "This document.", None, tags=("operations",)),
    Operation(
        "get",
        f"{INTERNAL}/due",
        "Personas due for a tick, never-active and oldest activity first; paged on request.",
        out.DueList,
        SERVICE_KEY,
        query=req.DuePage,
        errors=(400, 401),
        tags=("internal",),
    ),
    Operation(
        "post",
        f"{INTERNAL}/claims",
        "Lease due personas to one runner.",
        out.Claimed,
        SERVICE_KEY,
        body=req.ClaimRequest,
        errors=(400, 401, 413),
        tags=("internal",),
    ),
    Operation(
        "delete",
        f"{INTERNAL}/claims/{{personaId}}",
        "End this runner's lease early.",
        None,
        SERVICE_KEY,
        query=req.ClaimRelease,
        errors=(400, 401, 404, 409),
        ok_status=204,
        tags=("internal",),
    ),
    Operation(
        "post",
        f"{INTERNAL}/claims/{{personaId}}/heartbeat",
        "Extend this runner's live lease while it still drives the persona.",
        out.LeaseExtended,
        SERVICE_KEY,
        body=req.ClaimHeartbeat,
        errors=(400, 401, 404, 409, 413),
        tags=("internal",),
    ),
    Operation(
        "put",
        f"{INTERNAL}/{{id}}/ticks/{{tickId}}",
        "Record a tick's start or end, idempotently; a finished tick keeps its end.",
        out.TickRecorded,
        SERVICE_KEY,
        body=req.TickReport,
        errors=(400, 401, 404, 409, 413),
        tags=("internal",),
    ),
    Operation(
        "get",
        f"{INTERNAL}/{{id}}/history",
        "The story so far: the newest finished ticks, their tool calls and ratings.",
        out.History,
        SERVICE_KEY,
        query=req.HistoryQuery,
        errors=(400, 401, 404),
        tags=("internal",),
    ),
    Operation(
        "post",
        f"{INTERNAL}/{{id}}/actions",
        "Append a tick's tool-call audit, idempotently.",
        out.Written,
        SERVICE_KEY,
        body=req.ActionBatch,
        errors=(400, 401, 404, 413),
        tags=("internal",),
    ),
    Operation(
        "post",
        f"{INTERNAL}/{{id}}/feedback",
        "Append a tick's module ratings, idempotently.",
        out.Written,
        SERVICE_KEY,
        body=req.FeedbackBatch,
        errors=(400, 401, 404, 413),
        tags=("internal",),
    ),
    Operation(
        "post",
        ADMIN,
        "Create or update a persona by email (through mana-auth).",
        out.Upserted,
        ADMIN_JWT,
        body=req.PersonaUpsert,
        errors=(400, 401, 403, 409, 413, 502, 504),
        tags=("admin",),
    ),
    Operation(
        "get",
        ADMIN,
        "Every persona, newest first, with its 7-day activity; paged on request.",
        out.PersonaList,
        ADMIN_JWT,
        query=req.PersonaListPage,
        errors=(400, 401, 403),
        tags=("admin",),
    ),
    Operation(
        "get",
        f"{ADMIN}/insights",
        "Rating trends, regressions, stale personas, friction notes.",
        out.Insights,
        ADMIN_JWT,
        query=req.InsightsQuery,
        errors=(400, 401, 403),
        tags=("admin",),
    ),
    Operation(
        "get",
        f"{ADMIN}/{{id}}",
        "One persona, its 20 newest actions and ticks, its ratings per module.",
        out.PersonaDetail,
        ADMIN_JWT,
        errors=(401, 403, 404),
        tags=("admin",),
    ),
    Operation(
        "delete",
        f"{ADMIN}/{{id}}",
        "Hard-delete a persona here and in mana-auth.",
        out.Deleted,
        ADMIN_JWT,
        errors=(401, 403, 404, 502, 504),
        tags=("admin",),
    ),
    Operation(
        "post",
        f"{ADMIN}/{{id}}/run-now",
        "Make a persona due at once, whatever its cadence.",
        out.RunNow,
        ADMIN_JWT,
        errors=(401, 403, 404, 413),
        tags=("admin",),
    ),
    Operation(
        "get",
        "/dashboard",
        "The operators' dashboard (HTML; data comes from the admin routes).",
        None,
        content_type="text/html",
        tags=("dashboard",),
    ),
]


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [
        {
            "name": n,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": req.ID_MAX},
        }
        for n in names
    ]


def _query_value(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter is absent or a value, never null (a query string has no null):
    `anyOf: [X, null]` is stated as X."""
    kinds = [k for k in prop.get("anyOf", []) if k != {"type": "null"}]
    if len(kinds) != 1 or len(kinds) == len(prop.get("anyOf", [])):
        return prop
    rest = {k: v for k, v in prop.items() if k not in {"anyOf", "default"}}
    return {**kinds[0], **rest}


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": _query_value(prop)}
        for name, prop in schema["properties"].items()
    ]


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    if op.ok is not None:
        ok_content = {op.content_type: {"schema": _schema(op.ok, components)}}
    elif op.content_type == "application/json":
        ok_content = {op.content_type: {"schema": {"type": "object"}}}
    else:
        ok_content = {op.content_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {
        str(op.ok_status): {
            "description": "Success.",
            **({"content": ok_content} if op.ok_status != 204 else {}),
        }
    }
    error_ref = {"application/json": {"schema": _schema(out.ErrorBody, components)}}
    for status in sorted({*op.errors, *ALWAYS}):
        responses[str(status)] = {"description": ERRORS[status], "content": error_ref}
    spec: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}_{op.path}",
        "tags": list(op.tags),
        "responses": responses,
    }
    params = _path_params(op.path) + (_query_params(op.query) if op.query else [])
    if params:
        spec["parameters"] = params
    if op.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(op.body, components)}},
        }
    if op.security is not None:
        spec["security"] = op.security
    return spec


def _persona_domain_rule(components: dict[str, Any], domain: str) -> None:
    """The upsert's email must be in the persona domain: the document says so too."""
    email = components["PersonaUpsert"]["properties"]["email"]
    # JSON Schema patterns have no flags: spell the domain's letters case-insensitively.
    any_case = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in domain)
    email["pattern"] = f"^[^\\u0000@\\s]{{1,{req.EMAIL_LOCAL_MAX}}}@{any_case}$"
    email["description"] = f"An address at @{domain}: only synthetic users can become personas."


@cache
def document(persona_domain: str) -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, components)
    _persona_domain_rule(components, persona_domain)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mana personas API",
            "version": "1.0.0",
            "description": "Synthetic users of the Mana platform: due ticks, audit, ratings, insights.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "serviceKey": {"type": "apiKey", "in": "header", "name": "X-Service-Key"},
                "adminJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT (EdDSA, from mana-auth)",
                },
            },
        },
    }


@bp.get("/api/v1/personas/openapi.json")
def openapi_json() -> Response:
    return jsonify(document(current_app.config["PERSONAS"].persona_email_domain))
