"""The webhook routes' request and response shapes (validation and the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from personas.alerts.urls import URL_MAX
from personas.response_shapes import ResponseModel
from personas.validation import NAME_MAX, RequestModel, _whole_number, text

# The contract's events a webhook can subscribe to (webhook.test goes to its webhook only).
EVENTS = ("module.regressed", "persona.failing", "budget.reached", "release.worse", "tool.failing")
Event = Literal["module.regressed", "persona.failing", "budget.reached", "release.worse", "tool.failing"]
Format = Literal["standard", "slack"]
DeliveryStatus = Literal["pending", "delivered", "failed"]
DELIVERIES_MAX = 200


class WebhookCreate(RequestModel):
    url: text(URL_MAX, 1)
    events: Annotated[list[Event], Field(min_length=1, max_length=len(EVENTS))] = list(EVENTS)
    format: Format = "standard"
    description: text(NAME_MAX) | None = None

    @field_validator("events")
    @classmethod
    def _each_once(cls, events: list[str]) -> list[str]:
        if len(set(events)) != len(events):
            raise ValueError("must name each event at most once")
        return events


class DeliveriesQuery(RequestModel):
    """`?limit=N` of a webhook's deliveries, newest first."""

    limit: Annotated[int, Field(ge=1, le=DELIVERIES_MAX), BeforeValidator(_whole_number)] = 50


class WebhookOut(ResponseModel):
    id: str
    url: str
    events: list[str]
    format: Format
    description: str | None
    createdAt: datetime
    # Set when a receiver answered 410 Gone: nothing is sent to it again.
    disabledAt: datetime | None


class WebhookCreated(ResponseModel):
    id: str
    url: str
    events: list[str]
    format: Format
    description: str | None
    secret: str = Field(pattern="^whsec_[A-Za-z0-9+/]+={0,2}$")
    createdAt: datetime


class WebhookList(ResponseModel):
    webhooks: list[WebhookOut]


class DeliveryOut(ResponseModel):
    id: str
    webhookId: str
    messageId: str
    event: str
    status: DeliveryStatus
    attempts: int
    lastStatusCode: int | None
    lastError: str | None
    nextAttemptAt: datetime | None
    createdAt: datetime


class DeliveryAnswer(ResponseModel):
    delivery: DeliveryOut


class DeliveryList(ResponseModel):
    deliveries: list[DeliveryOut]
