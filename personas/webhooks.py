"""/api/v1/personas/admin/webhooks: where alerts go. Operators register receivers (the
secret is shown once, at creation), send a test, read the delivery log and replay a
delivery. Nested under the admin blueprint, whose gate (the admin JWT) it shares."""

from __future__ import annotations

import base64
import secrets

from flask import Blueprint, Response, current_app, jsonify

from personas.alerts.delivery import deliver_one
from personas.alerts.messages import TEST_EVENT, new_message
from personas.alerts.models import (
    DeliveriesQuery,
    DeliveryAnswer,
    DeliveryList,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
)
from personas.alerts.urls import RefusedUrl, check_url
from personas.db import get_db
from personas.errors import Conflict, NotFound, ValidationFailed
from personas.openapi import operation
from personas.queries import queries
from personas.validation import parse_body, parse_query

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
# The specification asks for 24 to 64 random bytes; 32 is what its examples use.
SECRET_BYTES = 32


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def require_sendable(url: str) -> None:
    try:
        check_url(url, current_app.config["PERSONAS"].alerts_allow_private_urls)
    except RefusedUrl as exc:
        raise ValidationFailed(f"url: {exc}", [{"field": "url", "message": str(exc)}]) from None


def require_live_webhook(conn, webhook_id: str) -> None:
    state = queries.alerts.webhook_state(conn, webhook_id=webhook_id)
    if state is None:
        raise NotFound("No webhook with that id.")
    if state["disabled"]:
        raise Conflict("This webhook is disabled (its receiver answered 410 Gone); register it again.")


@bp.post("", strict_slashes=False)
@operation(
    "Register a webhook; the answer carries its signing secret, shown only here.",
    ok=WebhookCreated,
    ok_status=201,
    body=WebhookCreate,
    errors=(400, 401, 403, 413),
)
def create() -> tuple[Response, int]:
    body = parse_body(WebhookCreate)
    require_sendable(body.url)
    with get_db().connection() as conn:
        row = queries.alerts.insert_webhook(
            conn,
            url=body.url,
            events=list(body.events),
            format=body.format,
            description=body.description,
            secret=new_secret(),
        )
    return jsonify(row), 201


@bp.get("", strict_slashes=False)
@operation("Every webhook, newest first (secrets left out).", ok=WebhookList, errors=(401, 403))
def list_webhooks() -> Response:
    with get_db().connection() as conn:
        return jsonify(webhooks=queries.alerts.list_webhooks(conn))


@bp.delete("/<webhook_id>")
@operation("Delete a webhook and its deliveries.", ok_status=204, errors=(401, 403, 404))
def delete(webhook_id: str) -> tuple[str, int]:
    with get_db().connection() as conn:
        if not queries.alerts.delete_webhook(conn, webhook_id=webhook_id):
            raise NotFound("No webhook with that id.")
    return "", 204


@bp.post("/<webhook_id>/test")
@operation(
    "Send a webhook.test message now; the delivery with its outcome (retried as any other if it failed).",
    ok=DeliveryAnswer,
    errors=(401, 403, 404, 409, 413),
)
def send_test(webhook_id: str) -> Response:
    # One transaction: no `alerts` process sees the delivery before this request has sent
    # it (and recorded the outcome), so it goes out once, now.
    with get_db().connection() as conn:
        require_live_webhook(conn, webhook_id)
        message_id = new_message(conn, TEST_EVENT, {})
        delivery_id = queries.alerts.queue_for_webhook(conn, webhook_id=webhook_id, message_id=message_id)
        deliver_one(conn, current_app.config["PERSONAS"], delivery_id)
        return jsonify(delivery=queries.alerts.delivery(conn, delivery_id=delivery_id))


@bp.get("/<webhook_id>/deliveries")
@operation(
    "A webhook's deliveries, newest first, with status and attempts.",
    ok=DeliveryList,
    query=DeliveriesQuery,
    errors=(400, 401, 403, 404),
)
def deliveries(webhook_id: str) -> Response:
    query = parse_query(DeliveriesQuery)
    with get_db().connection() as conn:
        if queries.alerts.webhook_state(conn, webhook_id=webhook_id) is None:
            raise NotFound("No webhook with that id.")
        rows = queries.alerts.webhook_deliveries(conn, webhook_id=webhook_id, limit=query.limit)
    return jsonify(deliveries=rows)


@bp.post("/deliveries/<delivery_id>/replay")
@operation(
    "Send a delivery's message again (the same webhook-id), as a new pending delivery.",
    ok=DeliveryAnswer,
    ok_status=202,
    errors=(401, 403, 404, 409, 413),
)
def replay(delivery_id: str) -> tuple[Response, int]:
    with get_db().connection() as conn:
        original = queries.alerts.delivery(conn, delivery_id=delivery_id)
        if original is None:
            raise NotFound("No delivery with that id.")
        require_live_webhook(conn, original["webhookId"])
        queued = queries.alerts.replay_delivery(conn, delivery_id=delivery_id)
        if queued is None:
            raise Conflict("This message is still pending for this webhook; it is sent again by itself.")
        return jsonify(delivery=queries.alerts.delivery(conn, delivery_id=queued["id"])), 202
