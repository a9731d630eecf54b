"""/health and the /dev switches: faults on purpose, the log of served calls, and the
product version the server answers (a deploy, on demand)."""

from __future__ import annotations

from datetime import UTC, datetime

from mcp.server.lowlevel import Server
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devmcp.faults import CallLog, Fault, Faults
from devmcp.listing import Listing, ListingSwitch
from devmcp.server import deploy

VERSION_MAX = 200


def _bad(field: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": "ValidationFailed", "message": f"{field}: {message}", "details": [{"field": field}]},
        status_code=400,
    )


def _number(body: dict, name: str, lo: float, hi: float | None, whole: bool) -> float | int | None:
    value = body.get(name)
    if value is None:
        return None
    kinds = (int,) if whole else (int, float)
    out_of_range = (
        not isinstance(value, bool) and isinstance(value, kinds) and (value < lo or value > (hi or value))
    )
    if isinstance(value, bool) or not isinstance(value, kinds) or out_of_range:
        raise ValueError(name, f"must be a {'whole ' if whole else ''}number from {lo} to {hi or 'any'}")
    return value


def parse_fault(body: object) -> Fault:
    if not isinstance(body, dict):
        raise ValueError("body", "must be a JSON object")
    tool = body.get("tool")
    if not isinstance(tool, str) or not tool.strip() or len(tool) > 200:
        raise ValueError("tool", "must be a tool name, or a prefix ending in *")
    error_rate = _number(body, "errorRate", 0, 1, whole=False)
    return Fault(
        tool=tool,
        error_rate=1.0 if error_rate is None else float(error_rate),
        delay_ms=_number(body, "delayMs", 0, 600_000, whole=True) or 0,
        times=_number(body, "times", 1, None, whole=True),
    )


def _schemas(body: dict, name: str) -> dict:
    value = body.get(name, {})
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError(name, "must map tool names to JSON objects (the schema to declare)")
    return value


def parse_listing(body: object) -> ListingSwitch:
    if not isinstance(body, dict):
        raise ValueError("body", "must be a JSON object")
    return ListingSwitch(
        page_size=_number(body, "pageSize", 1, 1000, whole=True),
        input_schemas=_schemas(body, "inputSchema"),
        output_schemas=_schemas(body, "outputSchema"),
    )


def parse_version(body: object) -> str:
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, str) or not 1 <= len(version) <= VERSION_MAX:
        raise ValueError("version", f"must be a string of 1 to {VERSION_MAX} characters")
    return version


def routes(faults: Faults, calls: CallLog, listing: Listing, server: Server) -> list[Route]:
    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "service": "devmcp", "standIn": True})

    async def add_fault(request: Request) -> Response:
        try:
            fault = parse_fault(await request.json())
        except ValueError as exc:
            field, message = exc.args if len(exc.args) == 2 else ("body", "must be JSON")
            return _bad(field, message)
        faults.add(fault)
        return Response(status_code=204)

    async def clear_faults(request: Request) -> Response:
        faults.clear()
        return Response(status_code=204)

    async def set_listing(request: Request) -> Response:
        try:
            listing.set(parse_listing(await request.json()))
        except ValueError as exc:
            field, message = exc.args if len(exc.args) == 2 else ("body", "must be JSON")
            return _bad(field, message)
        return Response(status_code=204)

    async def reset_listing(request: Request) -> Response:
        listing.set(ListingSwitch())
        return Response(status_code=204)

    async def set_version(request: Request) -> Response:
        try:
            deploy(server, parse_version(await request.json()))
        except ValueError as exc:
            field, message = exc.args if len(exc.args) == 2 else ("body", "must be JSON")
            return _bad(field, message)
        return Response(status_code=204)

    async def served_calls(request: Request) -> Response:
        raw = request.query_params.get("since", "")
        since = None
        if raw:
            try:
                since = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                return _bad("since", "must be an ISO-8601 time, e.g. 2025-01-31T12:00:00Z")
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
        return JSONResponse({"calls": [call.as_json() for call in calls.since(since)]})

    return [
        Route("/health", health, methods=["GET"]),
        Route("/dev/faults", add_fault, methods=["POST"]),
        Route("/dev/faults", clear_faults, methods=["DELETE"]),
        Route("/dev/listing", set_listing, methods=["POST"]),
        Route("/dev/listing", reset_listing, methods=["DELETE"]),
        Route("/dev/calls", served_calls, methods=["GET"]),
        Route("/dev/version", set_version, methods=["POST"]),
    ]
