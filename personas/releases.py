"""/api/v1/personas/admin/insights/releases: the product versions the runners met (their
MCP serverInfo, reported on each tick) and what changed with the newest one: each module's
ratings by the regression rule (two-sided), each tool's error rate and p95 latency.
Admin JWT only (the admin blueprint's gate)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Blueprint, Response, jsonify
from pydantic import Field

from apibase.limits import NAME_MAX
from personas import regression as rule
from personas.db import get_db
from personas.errors import ValidationFailed
from personas.openapi import operation
from personas.queries import queries
from personas.response_shapes import ResponseModel
from personas.validation import RequestModel, parse_query, text

# Registered under the admin blueprint, whose gate (the admin JWT) it shares.
bp = Blueprint("releases", __name__)
# A tool is worse when its error rate rose by this much (10 points) with at least
# TOOL_MIN_CALLS calls on each side, or its p95 latency at least doubled (on as many calls).
TOOL_ERROR_RATE_STEP = 0.10
TOOL_LATENCY_FACTOR = 2
TOOL_MIN_CALLS = 10
VERDICT_ORDER = {"worse": 0, "better": 1, "same": 2, "insufficient": 3}


class ReleasesQuery(RequestModel):
    """`?from=&to=`: the versions to compare (the newest and the one before by default)."""

    from_: text(NAME_MAX, 1) | None = Field(default=None, alias="from")
    to: text(NAME_MAX, 1) | None = None


class Release(ResponseModel):
    version: str
    firstSeen: datetime
    lastSeen: datetime
    ticks: int


class ModuleChange(ResponseModel):
    module: str
    fromAvg: float | None
    toAvg: float | None
    fromCount: int
    toCount: int
    effect: float | None
    pValue: float | None
    verdict: Literal["worse", "better", "same", "insufficient"]


class ToolChange(ResponseModel):
    tool: str
    fromCalls: int
    toCalls: int
    fromErrorRate: float | None
    toErrorRate: float | None
    fromP95Ms: int | None
    toP95Ms: int | None
    verdict: Literal["worse", "better", "same"]


class Comparison(ResponseModel):
    from_: str = Field(alias="from")
    to: str
    modules: list[ModuleChange]
    tools: list[ToolChange]


class Releases(ResponseModel):
    releases: list[Release]
    compare: Comparison | None


@bp.get("/insights/releases")
@operation(
    "Product versions seen on ticks, and the newest compared with the one before.",
    ok=Releases,
    query=ReleasesQuery,
    errors=(400, 401, 403),
)
def releases() -> Response:
    params = parse_query(ReleasesQuery)
    with get_db().connection() as conn:
        seen = queries.releases.product_releases(conn)
        pair = versions_compared(seen, params.from_, params.to)
        compare = comparison(conn, *pair) if pair else None
    return jsonify(releases=seen, compare=compare)


def newest_comparison(conn: Any) -> dict[str, Any] | None:
    """The newest product version against the one before, as the route compares them when
    asked for no versions; None with fewer than two versions."""
    pair = versions_compared(queries.releases.product_releases(conn))
    return comparison(conn, *pair) if pair else None


def comparison(conn: Any, start: str, to: str) -> dict[str, Any]:
    """`to` against `start`: each module's ratings and each tool's calls, worse first."""
    versions = {"from_version": start, "to_version": to}
    ratings = queries.releases.version_ratings(conn, **versions)
    tools = queries.releases.version_tools(conn, **versions)
    return {"from": start, "to": to, "modules": module_changes(ratings), "tools": tool_changes(tools)}


def versions_compared(
    seen: list[dict[str, Any]], start: str | None = None, to: str | None = None
) -> tuple[str, str] | None:
    """(from, to): as asked, else the newest and the one before it; an unknown one is a 400."""
    order = [r["version"] for r in seen]
    for field, version in (("from", start), ("to", to)):
        if version is not None and version not in order:
            raise ValidationFailed(
                f"{field}: no tick ran against product version {version!r}",
                [{"field": field, "message": "unknown product version"}],
            )
    to = to or (order[0] if order else None)
    if to is None:
        return None
    before = order[order.index(to) + 1 :]
    start = start or (before[0] if before else None)
    if start is None or start == to:
        return None
    return start, to


def module_changes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each module by the regression rule, two-sided, the `to` version as the recent side."""
    findings = rule.judge(rule.samples_from(rows), two_sided=True)
    modules = [
        {
            "module": module,
            "fromAvg": rule.rounded(f.baseline_avg),
            "toAvg": rule.rounded(f.recent_avg),
            "fromCount": f.baseline_count,
            "toCount": f.recent_count,
            "effect": rule.rounded(f.effect, 3),
            "pValue": rule.significant(f.p_value),
            "verdict": f.verdict,
        }
        for module, f in findings.items()
    ]
    modules.sort(key=lambda m: (VERDICT_ORDER[m["verdict"]], m["effect"] or 0, m["module"]))
    return modules


def tool_changes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sides: dict[str, dict[bool, dict[str, Any]]] = {}
    for row in rows:
        sides.setdefault(row["tool"], {})[row["recent"]] = row
    tools = [tool_change(tool, side.get(False, {}), side.get(True, {})) for tool, side in sides.items()]
    tools.sort(key=lambda t: (VERDICT_ORDER[t["verdict"]], -_rise(t), t["tool"]))
    return tools


def tool_change(tool: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    change = {
        "tool": tool,
        "fromCalls": before.get("calls", 0),
        "toCalls": after.get("calls", 0),
        "fromErrorRate": _rate(before),
        "toErrorRate": _rate(after),
        "fromP95Ms": before.get("p95"),
        "toP95Ms": after.get("p95"),
    }
    return {**change, "verdict": tool_verdict(change)}


def tool_verdict(change: dict[str, Any]) -> str:
    if min(change["fromCalls"], change["toCalls"]) < TOOL_MIN_CALLS:
        return "same"
    rise, before, after = _rise(change), change["fromP95Ms"], change["toP95Ms"]
    if rise >= TOOL_ERROR_RATE_STEP or _doubled(before, after):
        return "worse"
    if rise <= -TOOL_ERROR_RATE_STEP or _doubled(after, before):
        return "better"
    return "same"


def _doubled(before: int | None, after: int | None) -> bool:
    return bool(before) and after is not None and after >= TOOL_LATENCY_FACTOR * before


def _rate(side: dict[str, Any]) -> float | None:
    rate = side.get("error_rate")
    return None if rate is None else round(rate, 4)


def _rise(change: dict[str, Any]) -> float:
    # Rounded, so that 0.3 - 0.2 is a rise of 10 points, not just under.
    return round((change["toErrorRate"] or 0) - (change["fromErrorRate"] or 0), 6)
