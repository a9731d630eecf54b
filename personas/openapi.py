"""GET /api/v1/personas/openapi.json: the OpenAPI 3.1 document of every route.

Built from the app's url map: each view declares its operation beside it with
`@operation(summary, ok=..., body=..., query=..., errors=...)`; the path and method come
from its route, the tag and the security from its blueprint (the gate of its prefix).
Request schemas are the very models that validate requests (personas.validation),
response schemas those of personas.response_shapes. A route without a declaration is an error,
so a route cannot exist undocumented.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from personas import response_shapes as out
from personas import validation as req

bp = Blueprint("openapi", __name__)


ERRORS = {
    400: "Invalid input; `details` names every field at fault (with the row index for batches).",
    401: "Missing or invalid credentials.",
    403: "A valid token without the admin role.",
    404: "No such persona, lease, webhook, delivery or route.",
    409: "Conflicts with the current state (another runner's lease, another user's email,"
    " a tick that finished otherwise, a webhook disabled by a 410).",
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
    """What the document says of one view: `ok` is the success body's model (None: no
    model, e.g. text or HTML), `body` and `query` the request's, `errors` the statuses the
    view itself can answer (ALWAYS and nothing else is added)."""

    summary: str
    ok: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    ok_status: int = 200
    content_type: str = "application/json"


View = TypeVar("View", bound=Callable)


def operation(summary: str, **declared: Any) -> Callable[[View], View]:
    """Declare a view's operation beside it, under its route decorator:

        @bp.post("/claims")
        @operation("Lease due personas to one runner.", ok=Claimed, body=ClaimRequest, errors=(400, 401, 413))
        def claim(): ...

    The path, method, tag and security come from the route and its blueprint."""

    def record(view: View) -> View:
        view.operation = Operation(summary, **declared)  # type: ignore[attr-defined]
        return view

    return record


class UndocumentedRoute(LookupError):
    """A route whose view declares no @operation: the document would not be the API."""


# The tag of each top-level blueprint (the prefix it owns); by its name otherwise.
TAGS = {"ops": "operations", "metrics": "operations", "openapi": "operations"}
# The gate of a blueprint (personas.auth.gate) says which credentials its routes need.
SECURITY_SCHEMES = {
    "serviceKey": {"type": "apiKey", "in": "header", "name": "X-Service-Key"},
    "adminJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT (EdDSA, from mana-auth)",
    },
}
_VARIABLE = re.compile(r"<(?:[^:>]+:)?([^>]+)>")


def _schema(model: type[BaseModel], components: dict[str, Any], mode: JsonSchemaMode) -> dict[str, Any]:
    """The model's schema as a component: `validation` for what the service reads,
    `serialization` for what it answers (where a field with a default is still always sent)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
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


def _operation(
    method: str, path: str, op: Operation, tag: str, security: str | None, components: dict[str, Any]
) -> dict[str, Any]:
    if op.ok is not None:
        ok_content = {op.content_type: {"schema": _schema(op.ok, components, "serialization")}}
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
    error_ref = {"application/json": {"schema": _schema(out.ErrorBody, components, "serialization")}}
    for status in sorted({*op.errors, *ALWAYS}):
        responses[str(status)] = {"description": ERRORS[status], "content": error_ref}
    spec: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{method}_{path}",
        "tags": [tag],
        "responses": responses,
    }
    params = _path_params(path) + (_query_params(op.query) if op.query else [])
    if params:
        spec["parameters"] = params
    if op.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(op.body, components, "validation")}},
        }
    if security is not None:
        spec["security"] = [{security: []}]
    return spec


def _persona_domain_rule(components: dict[str, Any], domain: str) -> None:
    """The upsert's email must be in the persona domain: the document says so too."""
    email = components["PersonaUpsert"]["properties"]["email"]
    # JSON Schema patterns have no flags: spell the domain's letters case-insensitively.
    any_case = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in domain)
    email["pattern"] = f"^[^\\u0000@\\s]{{1,{req.EMAIL_LOCAL_MAX}}}@{any_case}$"
    email["description"] = f"An address at @{domain}: only synthetic users can become personas."


def document(app: Flask, persona_domain: str) -> dict[str, Any]:
    """The document of every route of `app`'s url map, from the views' @operation."""
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        op = getattr(view, "operation", None)
        if op is None:
            raise UndocumentedRoute(f"{rule.rule} ({rule.endpoint}) declares no @operation")
        blueprint = rule.endpoint.partition(".")[0]
        tag = TAGS.get(blueprint, blueprint)
        security = getattr(app.blueprints.get(blueprint), "security_scheme", None)
        path = _VARIABLE.sub(r"{\1}", rule.rule).rstrip("/") or "/"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                method.lower(), path, op, tag, security, components
            )
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
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


@bp.get("/api/v1/personas/openapi.json")
@operation("This document.")
def openapi_json() -> Response:
    # Built once per app, on first request: every route is registered by then.
    doc = current_app.extensions.get("personas.openapi")
    if doc is None:
        doc = document(current_app, current_app.config["PERSONAS"].persona_email_domain)
        current_app.extensions["personas.openapi"] = doc
    return jsonify(doc)
