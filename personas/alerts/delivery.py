"""Sending one delivery: lock its row, POST the signed message, record the outcome.

The row lock is held while the request is in flight, so no two `alerts` processes (nor
the test button) send one delivery at once, and one killed mid-send leaves the row
pending, to be sent again with the same webhook-id: a receiver may see a message twice
(it deduplicates on webhook-id, as the specification says), never lose it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import psycopg
import requests
from standardwebhooks.webhooks import Webhook

from config import Config
from personas.alerts.messages import slack_body
from personas.alerts.urls import RefusedUrl, check_url
from personas.db import apply_transaction_settings
from personas.queries import queries

log = logging.getLogger(__name__)
ERROR_MAX = 500
# A Retry-After further out than this is read as this: a receiver cannot park a message
# for longer than the whole schedule would.
RETRY_AFTER_MAX = 36_000


@dataclass(frozen=True)
class Outcome:
    """One attempt: delivered (2xx), gone (410), or failed with a code or an error."""

    status_code: int | None
    error: str | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), RETRY_AFTER_MAX)


def signed_headers(message_id: str, secret: str, body: str, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed by the specification's own library."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
    }


def post(row: dict[str, Any], config: Config) -> Outcome:
    """One attempt at the webhook's URL, within the send timeout, following no redirect."""
    try:
        check_url(row["url"], config.alerts_allow_private_urls)
    except RefusedUrl as exc:
        return Outcome(None, f"refused: the URL {exc}")
    body = slack_body(row["body"]) if row["format"] == "slack" else row["body"]
    now = datetime.now(UTC)
    timeout = config.alert_send_timeout
    try:
        with requests.post(
            row["url"],
            data=body.encode(),
            headers=signed_headers(row["message_id"], row["secret"], body, now),
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,  # the status and headers are all we read
        ) as response:
            return Outcome(response.status_code, None, retry_after(response.headers.get("Retry-After"), now))
    except requests.Timeout:
        return Outcome(None, f"no answer within {timeout:g} s")
    except requests.RequestException as exc:
        return Outcome(None, f"{type(exc).__name__}: {str(exc)[:ERROR_MAX]}")


def _record(conn: psycopg.Connection, row: dict[str, Any], outcome: Outcome, config: Config) -> str:
    """Store the outcome of the attempt just made; the delivery's status after it."""
    attempts = row["attempts"] + 1
    error = outcome.error
    if outcome.status_code is not None and not outcome.delivered:
        error = f"the receiver answered {outcome.status_code}"
    schedule = config.alert_retry_seconds
    if outcome.delivered:
        status, wait = "delivered", None
    elif outcome.gone:
        status, wait = "failed", None
        error = "the receiver answered 410 Gone: the webhook is disabled"
        queries.alerts.disable_webhook(conn, webhook_id=row["webhook_id"])
    elif attempts > len(schedule):
        status, wait = "failed", None
    else:
        status, wait = "pending", max(schedule[attempts - 1], outcome.retry_after or 0)
    queries.alerts.record_attempt(
        conn,
        delivery_id=row["id"],
        status=status,
        attempted=1,
        status_code=outcome.status_code,
        error=error,
        retry_in=wait,
    )
    return status


def deliver_one(conn: psycopg.Connection, config: Config, delivery_id: str | None = None) -> str | None:
    """Send the next delivery due (or the pending one named), in one transaction that holds
    its row; its id, or None when nothing was due (or another sender holds it)."""
    with conn.transaction():
        apply_transaction_settings(conn, config)
        row = queries.alerts.lock_due_delivery(conn, delivery_id=delivery_id)
        if row is None:
            return None
        if row["disabled"]:
            queries.alerts.record_attempt(
                conn,
                delivery_id=row["id"],
                status="failed",
                attempted=0,
                status_code=None,
                error="the webhook is disabled (its receiver answered 410 Gone)",
                retry_in=None,
            )
            return row["id"]
        outcome = post(row, config)
        status = _record(conn, row, outcome, config)
    log.info(
        "alert %s (%s) to %s: %s after attempt %d (%s)",
        row["message_id"],
        row["event"],
        row["webhook_id"],
        status,
        row["attempts"] + 1,
        outcome.status_code or outcome.error,
    )
    return row["id"]
