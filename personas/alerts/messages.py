"""What is sent: one message per event, `{"type", "timestamp", "data"}`, kept in PostgreSQL
with its id (the `webhook-id` of every delivery of it); Slack's body made from it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from personas.queries import queries

TEST_EVENT = "webhook.test"
# Slack refuses a field over 2,000 characters; an error message can be longer.
FIELD_MAX = 500

# One line a Slack reader understands, per event; the data follows as fields.
HEADLINES = {
    "module.regressed": "A module regressed: {module}",
    "persona.failing": "A persona keeps failing: {email} ({failedTicks} ticks, last at {lastStep})",
    "budget.reached": "The fleet budget is reached: ${spentUsd} of ${limitUsd}",
    "release.worse": "Release {to} compares worse than {from}",
    "tool.failing": "A tool is failing: {tool} ({calls} calls, error rate {errorRate})",
    TEST_EVENT: "A test message from the personas service",
}


def message_body(event: str, data: dict[str, Any], at: datetime | None = None) -> str:
    """The JSON text signed and sent, made once: every retry sends the same bytes."""
    at = at or datetime.now(UTC)
    timestamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return orjson.dumps({"type": event, "timestamp": timestamp, "data": data}).decode()


def new_message(conn: psycopg.Connection, event: str, data: dict[str, Any]) -> str:
    """Store a message of `event`; its id."""
    message_id = f"msg_{uuid.uuid4().hex}"
    queries.alerts.insert_message(conn, message_id=message_id, event=event, body=message_body(event, data))
    return message_id


def headline(event: str, data: dict[str, Any]) -> str:
    try:
        return HEADLINES[event].format(**data)
    except (KeyError, IndexError, ValueError):
        return f"Alert: {event}"


def slack_body(body: str) -> str:
    """Slack's incoming-webhook body (`text` for notifications, `blocks` for the channel)."""
    message = orjson.loads(body)
    title = headline(message["type"], message["data"])
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{str(value)[:FIELD_MAX]}"}
        for name, value in message["data"].items()
        if not isinstance(value, (dict, list))
    ][:10]  # Slack takes at most 10 fields a section
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}}]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"`{message['type']}` at {message['timestamp']}"}],
        }
    )
    return orjson.dumps({"text": title, "blocks": blocks}).decode()
