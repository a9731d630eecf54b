"""Response shapes, for the OpenAPI document (and the fuzzer that checks answers against it).

Views build their JSON directly (or let PostgreSQL build it); each view names the model
of its answer in its @operation (personas.openapi), and tests/service/test_openapi.py
and the fuzzer hold the two together. One model per shape: a due persona is DuePersona,
in /due and in a claim alike.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from apibase.limits import Cadence
from personas.validation import PersonaListed, PersonaSettings


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    field: str
    message: str
    index: int | None = None


class ErrorBody(BaseModel):
    """Every error: a kind, one human sentence, and what else helps (details, step, request id)."""

    model_config = ConfigDict(extra="allow")
    error: str
    message: str
    details: list[ErrorDetail] | None = None
    step: str | None = None
    requestId: str | None = None


class Ok(ResponseModel):
    ok: Literal[True]


class Ready(ResponseModel):
    ok: Literal[True]
    database: Literal["ok"]


class PersonaFields(ResponseModel):
    """What every answer about a persona carries that no operator sets (its columns:
    sql/functions/shapes.sql)."""

    userId: str
    email: str
    lastActiveAt: datetime | None


class DuePersona(PersonaFields):
    """A persona as the runners read it (personas.due_persona)."""

    # The contract's fixed shape: a new setting enters it only when the runner needs it.

    archetype: str
    systemPrompt: str
    moduleMix: dict[str, float]
    tickCadence: Cadence


def present_when(description: str) -> Any:
    """A field an answer carries only in some cases (absent otherwise, never null): the
    description says when; the schema states no default."""
    return Field(
        default=None, description=description, json_schema_extra=lambda schema: schema.pop("default", None)
    )


NEXT_CURSOR = present_when(
    "Present when more rows follow this page: pass it back as `cursor` for the next one."
)


class DueList(ResponseModel):
    personas: list[DuePersona]
    serverTime: datetime
    nextCursor: str = NEXT_CURSOR


class Budget(ResponseModel):
    limitUsd: float
    spentUsd: float
    # The expected cost of the ticks leased and not reported yet, held against the limit.
    reservedUsd: float
    resetsAt: datetime


class Claimed(ResponseModel):
    personas: list[DuePersona]
    leaseUntil: datetime
    serverTime: datetime
    budget: Budget = present_when("Where today's fleet budget stands; present whenever one is set.")


class LeaseExtended(ResponseModel):
    leaseUntil: datetime


TickState = Literal["running", "ok", "failed", "timeout"]
# Where a failed or timed-out tick stopped; `lease`: another runner holds its persona now;
# `abandoned`: the service closed it, its lease lapsed with no final report.
TickStep = Literal["login", "spaces", "driver", "actions", "feedback", "timeout", "lease", "abandoned"]


class ProductOut(ResponseModel):
    name: str
    version: str


class TickOut(ResponseModel):
    tickId: str
    runnerId: str
    state: TickState
    step: TickStep | None
    error: str | None
    driver: str | None
    model: str | None
    spaceId: str | None
    startedAt: datetime
    finishedAt: datetime | None
    inputTokens: int
    outputTokens: int
    cacheReadTokens: int
    cacheWriteTokens: int
    costUsd: float
    toolCalls: int
    toolErrors: int
    traceId: str = present_when("The tick's OpenTelemetry trace id; present when the runner reported one.")
    # The product's name and version (MCP serverInfo) the tick ran against, when reported.
    product: ProductOut | None = None


class TickRecorded(ResponseModel):
    tick: TickOut


class TranscriptStored(ResponseModel):
    ok: Literal[True]
    tickId: str
    events: int
    # False: the tick had this very transcript already (a retry).
    new: bool


class ToolCall(ResponseModel):
    toolName: str
    result: Literal["ok", "error"]


class TickRating(ResponseModel):
    module: str
    rating: int
    notes: str | None


class TickStory(ResponseModel):
    tickId: str
    state: Literal["ok", "failed", "timeout"]
    startedAt: datetime
    spaceId: str | None
    tools: list[ToolCall]
    ratings: list[TickRating]


class History(ResponseModel):
    ticks: list[TickStory]


class Written(ResponseModel):
    ok: Literal[True]
    written: int
    new: int


class Upserted(ResponseModel):
    ok: Literal[True]
    userId: str
    email: str
    created: bool
    # Whether the password in the body logs in (false: the user was registered with another;
    # null: mana-auth could not tell).
    loginOk: bool | None


class StoredPersona(PersonaFields):
    """The answer-only fields of the admin list and detail, which add the settings (models
    in personas.validation) to them. Every field is always present: in the document's
    answer schemas (serialization mode) a setting's request default does not make it
    optional. A name is null only for a persona not upserted since names were stored."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)
    createdAt: datetime


class PersonaSummary(StoredPersona, PersonaListed):
    """A row of the admin list (personas.persona_summary)."""

    actions7d: int


class PersonaList(ResponseModel):
    personas: list[PersonaSummary]
    nextCursor: str = NEXT_CURSOR


class PersonaDescriptor(StoredPersona, PersonaSettings):
    """A persona whole, as the admin detail shows it (personas.persona_descriptor)."""


class ActionOut(ResponseModel):
    id: str
    personaId: str
    tickId: str
    toolName: str
    inputHash: str | None
    result: Literal["ok", "error"]
    errorMessage: str | None
    latencyMs: int | None
    createdAt: datetime


class ModuleFeedback(ResponseModel):
    module: str
    avgRating: float
    count: int
    minRating: int
    maxRating: int
    lastRating: int
    lastNote: str | None
    lastRatedAt: datetime


class SpaceTick(ResponseModel):
    tickId: str
    state: TickState
    startedAt: datetime
    finishedAt: datetime | None
    toolCalls: int
    toolErrors: int
    # The tools called in the tick, each once, by name.
    tools: list[str]


class SpacePartner(ResponseModel):
    userId: str
    email: str
    recentTicks: list[SpaceTick]


class SharedSpace(ResponseModel):
    spaceId: str
    # Every persona that ticked in the space, the one asked about first.
    partners: list[SpacePartner]


class PersonaDetail(ResponseModel):
    persona: PersonaDescriptor
    recentActions: list[ActionOut]
    feedbackByModule: list[ModuleFeedback]
    recentTicks: list[TickOut]
    # The shared spaces it ticked in (another persona ticked there too), newest first.
    spaces: list[SharedSpace]


class TranscriptOut(ResponseModel):
    # Each event as it was stored (personas.validation.Transcript): model, call, ratings, error.
    events: list[dict[str, Any]]


class TickDetail(ResponseModel):
    tick: TickOut
    # In call order.
    actions: list[ActionOut]
    ratings: list[TickRating]
    # Null when none was sent, or it was pruned (TRANSCRIPT_RETENTION_DAYS).
    transcript: TranscriptOut | None


class Deleted(ResponseModel):
    ok: Literal[True]
    deleted: str


class RunNow(ResponseModel):
    ok: Literal[True]
    userId: str


class WeekFigure(ResponseModel):
    weekStart: date
    avgRating: float | None
    count: int


class Regression(ResponseModel):
    since: date
    baselineAvg: float
    recentAvg: float
    baselineCount: int
    recentCount: int
    # How many personas gave the recent ratings (ours: the dashboard's words need it).
    recentPersonas: int
    # Cliff's δ of the recent ratings against the baseline, and the Holm-adjusted p-value.
    effect: float
    pValue: float


class ModuleTrend(ResponseModel):
    module: str
    avgRating: float | None
    count: int
    weekly: list[WeekFigure]
    # Whether the regression rule had enough ratings to test the module at all.
    evidence: Literal["enough", "insufficient"]
    regression: Regression | None


class StalePersona(ResponseModel):
    userId: str
    email: str
    tickCadence: Cadence
    lastActiveAt: datetime | None
    overdueSeconds: int


class FrictionNote(ResponseModel):
    module: str
    rating: int
    notes: str
    email: str
    # The persona and tick the rating came from: the tick view's address.
    userId: str
    tickId: str
    createdAt: datetime


class DriverRuns(ResponseModel):
    # The runner's driver ("claude", "openai", "scripted"); "" for ticks that named none.
    driver: str
    ticks: int
    costUsd: float


class RunDay(ResponseModel):
    day: date
    ok: int
    failed: int
    timeout: int
    running: int
    costUsd: float
    inputTokens: int
    outputTokens: int
    byDriver: list[DriverRuns]


class FailingPersona(ResponseModel):
    userId: str
    email: str
    failedTicks: int
    lastStep: str | None
    lastError: str | None
    lastAt: datetime
    # The newest failed tick, for the tick view.
    lastTickId: str


class Runs(ResponseModel):
    daily: list[RunDay]
    failing: list[FailingPersona]


class ToolWeek(ResponseModel):
    weekStart: date
    calls: int
    errorRate: float | None


class ToolHealth(ResponseModel):
    tool: str
    module: str
    calls: int
    errors: int
    errorRate: float
    # The upper bound of the latency bucket p95 falls in (at most 20% above the true p95);
    # null when no call in the window reported a latency.
    p95LatencyMs: int | None
    weekly: list[ToolWeek]


class Insights(ResponseModel):
    generatedAt: datetime
    weeks: int
    # Which ticks `modules` and `tools` count (the `space` asked for, `all` by default).
    space: Literal["shared", "personal", "all"]
    modules: list[ModuleTrend]
    stale: list[StalePersona]
    staleTotal: int
    friction: list[FrictionNote]
    runs: Runs
    tools: list[ToolHealth]
    budget: Budget | None = None
