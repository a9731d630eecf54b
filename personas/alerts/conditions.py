"""The conditions alerts are sent for. Each is one function returning what holds now, as
{key: data}: a key (a persona, a tool, a day, a module, a pair of versions) names one
instance of the condition, and the data goes out in its message. `look_for_conditions`
sends each instance once when it starts, again only after it cleared and came back or
ALERT_REPEAT_HOURS passed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from config import Config
from personas import insights, releases
from personas.alerts.messages import new_message
from personas.db import apply_transaction_settings
from personas.queries import queries

Found = dict[str, dict[str, Any]]
Condition = Callable[[psycopg.Connection, Config], Found]

# persona.failing: the last 3 finished ticks failed or timed out (the insights rule, whose
# window starts on a Monday: two weeks keep a streak that began last week in view).
FAILING_STREAK = 3
FAILING_WEEKS = 2
FAILING_LIMIT = 1000
# tool.failing: at least half the calls of the last hour failed, over at least 10 calls.
TOOL_WINDOW_MINUTES = 60
TOOL_MIN_CALLS = 10
TOOL_ERROR_RATE = 0.5


def persona_failing(conn: psycopg.Connection, config: Config) -> Found:
    rows = queries.insights.failing_personas(
        conn,
        now=datetime.now(UTC),
        weeks=FAILING_WEEKS,
        archetype=None,
        streak=FAILING_STREAK,
        limit=FAILING_LIMIT,
    )
    return {
        row["userId"]: {
            "userId": row["userId"],
            "email": row["email"],
            "failedTicks": row["failedTicks"],
            "lastStep": row["lastStep"],
            "lastError": row["lastError"],
            "tickId": row["lastTickId"],
        }
        for row in rows
    }


def budget_reached(conn: psycopg.Connection, config: Config) -> Found:
    """Keyed by the UTC day: the budget reached today clears at midnight with the spend."""
    limit = config.fleet_daily_budget_usd
    if limit is None:
        return {}
    standing = queries.insights.budget_standing(conn)
    if standing["spentUsd"] < limit:
        return {}
    resets_at = standing["resetsAt"].astimezone(UTC)
    return {
        resets_at.date().isoformat(): {
            "limitUsd": limit,
            "spentUsd": standing["spentUsd"],
            "resetsAt": resets_at.isoformat().replace("+00:00", "Z"),
        }
    }


def tool_failing(conn: psycopg.Connection, config: Config) -> Found:
    rows = queries.alerts.failing_tools(
        conn, minutes=TOOL_WINDOW_MINUTES, min_calls=TOOL_MIN_CALLS, rate=TOOL_ERROR_RATE
    )
    return {row["tool"]: {**row, "windowMinutes": TOOL_WINDOW_MINUTES} for row in rows}


def module_regressed(conn: psycopg.Connection, config: Config) -> Found:
    """The modules the regression rule flags now, as the dashboard shows them unfiltered.
    Its windows roll, so a module can also be flagged (or clear) with no new rating."""
    regressed = insights.regressed_modules(conn, datetime.now(UTC))
    return {module: {"module": module, "regression": found} for module, found in regressed.items()}


def release_worse(conn: psycopg.Connection, config: Config) -> Found:
    """The newest product version, when it compares worse than the one before on some
    module or tool (the releases route's comparison); keyed by the pair of versions."""
    compared = releases.newest_comparison(conn)
    if compared is None:
        return {}
    modules = [m for m in compared["modules"] if m["verdict"] == "worse"]
    tools = [t for t in compared["tools"] if t["verdict"] == "worse"]
    if not modules and not tools:
        return {}
    start, to = compared["from"], compared["to"]
    return {f"{start} -> {to}": {"from": start, "to": to, "modules": modules, "tools": tools}}


CONDITIONS: dict[str, Condition] = {
    "module.regressed": module_regressed,
    "persona.failing": persona_failing,
    "budget.reached": budget_reached,
    "release.worse": release_worse,
    "tool.failing": tool_failing,
}


def _send_changes(conn: psycopg.Connection, config: Config, event: str, found: Found) -> int:
    """Messages for the instances of `event` that started (or are due a repeat); the ones
    gone are cleared. How many messages were queued."""
    repeat_before = datetime.now(UTC) - timedelta(hours=config.alert_repeat_hours)
    open_now = {row["key"]: row["sent_at"] for row in queries.alerts.open_conditions(conn, event=event)}
    sent = 0
    for key, data in found.items():
        if key in open_now and open_now[key] > repeat_before:
            continue
        message_id = new_message(conn, event, data)
        queries.alerts.queue_for_subscribers(conn, message_id=message_id, event=event)
        queries.alerts.mark_sent(conn, event=event, key=key)
        sent += 1
    queries.alerts.clear_conditions(conn, event=event, keys=list(found))
    return sent


def look_for_conditions(
    conn: psycopg.Connection, config: Config, conditions: dict[str, Condition] = CONDITIONS
) -> int | None:
    """Check every condition in one transaction; the messages queued, or None when another
    `alerts` process is checking right now."""
    with conn.transaction():
        apply_transaction_settings(conn, config)
        if not queries.alerts.try_lock_conditions(conn):
            return None
        return sum(
            _send_changes(conn, config, event, find(conn, config)) for event, find in conditions.items()
        )
