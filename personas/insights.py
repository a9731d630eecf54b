"""/api/v1/personas/admin/insights: which module got worse lately (by evidence:
personas/regression.py), which personas the
runners are not reaching, the notes behind the lowest ratings, runs per day, the personas
whose ticks keep failing, tool health and the fleet budget. Admin JWT only (the admin
blueprint's gate).

Everything else is computed in SQL (sql/insights/); this module only shapes the rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from personas import regression as rule
from personas.db import get_db
from personas.openapi import operation
from personas.queries import queries
from personas.response_shapes import Insights
from personas.validation import InsightsQuery, parse_query

# Registered under the admin blueprint, whose gate (the admin JWT) it shares.
bp = Blueprint("insights", __name__)
FRICTION_LIMIT = 50
# The most overdue personas listed; `staleTotal` says how many there are in all. A fleet
# the runners have stopped reaching altogether must not make this answer as large as it.
STALE_LIMIT = 500
# The most recently failed personas listed, and how far back a persona's run of failures is
# counted (its `failedTicks` is at most this).
FAILING_LIMIT = 200
FAILING_STREAK = 20


def module_trends(conn: Any, now: datetime, weeks: int, archetype: str | None, space: str | None) -> list:
    """The modules' trends over the weeks shown, each with the regression rule's finding;
    worst regression (most negative effect) first, then by mean rating."""
    rows = queries.insights.module_trends(conn, now=now, archetype=archetype, space=space, weeks=weeks)
    findings = rule_findings(conn, now, archetype, space)
    since = regression_since(now)
    trends = []
    for row in rows:
        finding = findings.get(row["module"])
        regression = rule_regression(finding, since) if finding and finding.direction else None
        if row["count"] or regression:
            evidence = "enough" if finding and finding.enough else "insufficient"
            trends.append(
                {
                    "module": row["module"],
                    "avgRating": row["avg_rating"],
                    "count": row["count"],
                    "weekly": row["weekly"],
                    "evidence": evidence,
                    "regression": regression,
                }
            )
    trends.sort(key=_worst_first)
    return trends


def rule_findings(
    conn: Any, now: datetime, archetype: str | None, space: str | None
) -> dict[str, rule.Finding]:
    """The regression rule's finding for each module rated in its windows up to `now`."""
    samples = queries.insights.rating_samples(
        conn,
        now=now,
        archetype=archetype,
        space=space,
        recent_days=rule.RECENT_DAYS,
        baseline_days=rule.BASELINE_DAYS,
    )
    return rule.judge(rule.samples_from(samples))


def regressed_modules(conn: Any, now: datetime) -> dict[str, dict[str, Any]]:
    """The modules the rule flags now over every rating (the dashboard's view with no
    filter), each with its `regression` as the insights answer shows it."""
    since = regression_since(now)
    findings = rule_findings(conn, now, archetype=None, space=None)
    return {module: rule_regression(f, since) for module, f in findings.items() if f.direction}


def regression_since(now: datetime) -> str:
    return (now - timedelta(days=rule.RECENT_DAYS)).date().isoformat()


def rule_regression(finding: rule.Finding, since: str) -> dict[str, Any]:
    return {
        "since": since,
        "baselineAvg": rule.rounded(finding.baseline_avg),
        "recentAvg": rule.rounded(finding.recent_avg),
        "baselineCount": finding.baseline_count,
        "recentCount": finding.recent_count,
        "recentPersonas": finding.recent_personas,
        "effect": rule.rounded(finding.effect, 3),
        "pValue": rule.significant(finding.p_value),
    }


def _worst_first(trend: dict[str, Any]) -> tuple:
    regression, avg = trend["regression"], trend["avgRating"]
    return (
        regression is None,
        regression["effect"] if regression else 0,
        avg is None,
        avg or 0,
        trend["module"],
    )


@bp.get("/insights")
@operation(
    "Rating trends, regressions, stale personas, friction notes.",
    ok=Insights,
    query=InsightsQuery,
    errors=(400, 401, 403),
)
def insights() -> Response:
    params = parse_query(InsightsQuery)
    # One clock for all three queries, so the weeks, the overdue times and generatedAt agree.
    now = datetime.now(UTC)
    window = {"now": now, "weeks": params.weeks, "archetype": params.archetype}
    space = None if params.space == "all" else params.space
    with get_db().connection() as conn:
        modules = module_trends(conn, now, params.weeks, params.archetype, space)
        stale = queries.insights.stale_personas(conn, now=now, archetype=params.archetype, limit=STALE_LIMIT)
        friction = queries.insights.friction_notes(conn, **window, limit=FRICTION_LIMIT)
        daily = queries.insights.runs_daily(conn, now=now, weeks=params.weeks)
        failing = queries.insights.failing_personas(
            conn, **window, streak=FAILING_STREAK, limit=FAILING_LIMIT
        )
        tools = queries.insights.tool_health(conn, now=now, weeks=params.weeks, space=space)
        budget = fleet_budget(conn)
    stale_total = 0
    for row in stale:
        stale_total = row.pop("staleTotal")
    return jsonify(
        generatedAt=now,
        weeks=params.weeks,
        space=params.space,
        modules=modules,
        stale=stale,
        staleTotal=stale_total,
        friction=friction,
        runs={"daily": daily, "failing": failing},
        tools=tools,
        **({"budget": budget} if budget else {}),
    )


def fleet_budget(conn: Any) -> dict[str, Any] | None:
    """Where today's budget stands, as claims answer it; None when no budget is set."""
    limit = current_app.config["PERSONAS"].fleet_daily_budget_usd
    if limit is None:
        return None
    return {"limitUsd": limit, **queries.insights.budget_standing(conn)}
