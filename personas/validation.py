"""Request models: validation at the edge, one error shape for every problem.

Views call `parse_body(Model)` and get a valid model or a 400 listing every problem,
each naming its field (with the row index for batch rows).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeVar

import orjson
from flask import request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from werkzeug.routing import BaseConverter

from apibase.limits import (
    ACTIONS_MAX,
    CALL_OUTPUT_MAX,
    DEFAULT_CADENCE,
    FEEDBACK_MAX,
    HASH_MAX,
    ID_MAX,
    MODEL_TEXT_MAX,
    NAME_MAX,
    PROMPT_MAX,
    STEP_MAX,
    TEXT_MAX,
    TICK_ERROR_MAX,
    Cadence,
    check_finite,
)
from apibase.module_mix import WEIGHT_MAX, check_module_mix, check_weight
from personas import jsonio, limits
from personas.errors import RequestRefused, ValidationFailed
from personas.paging import CURSOR_MAX, PAGE_LIMIT_MAX, PageKey, decode_cursor

CLAIM_LIMIT_MAX = 500


# Stated in the OpenAPI document; _no_nul enforces it with a message that names the problem.
NO_NUL = "^[^\\u0000]*$"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def text(max_length: int, min_length: int = 0) -> Any:
    """A JSON string (never a number or a bool), without NUL, within the caps."""
    return Annotated[
        StrictStr,
        Field(min_length=min_length, max_length=max_length, json_schema_extra={"pattern": NO_NUL}),
        AfterValidator(_no_nul),
    ]


class RequestModel(BaseModel):
    # Unknown extra fields are ignored, as the contract says.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ActionRow(RequestModel):
    tickId: text(ID_MAX, 1)
    toolName: text(NAME_MAX, 1)
    result: Literal["ok", "error"]
    inputHash: text(HASH_MAX) | None = None
    errorMessage: text(TEXT_MAX) | None = None
    latencyMs: Annotated[StrictInt, Field(ge=0, le=2_147_483_647)] | None = None


class ActionBatch(RequestModel):
    actions: Annotated[list[ActionRow], Field(min_length=1, max_length=ACTIONS_MAX)]


class FeedbackRow(RequestModel):
    tickId: text(ID_MAX, 1)
    module: text(NAME_MAX, 1)
    rating: Annotated[StrictInt, Field(ge=1, le=5)]
    notes: text(TEXT_MAX) | None = None


class FeedbackBatch(RequestModel):
    feedback: Annotated[list[FeedbackRow], Field(min_length=1, max_length=FEEDBACK_MAX)]
    # The runner posting: only its own lease ends (none: whichever lease is live).
    runnerId: text(ID_MAX, 1) | None = None


class ClaimRequest(RequestModel):
    runnerId: text(ID_MAX, 1)
    limit: Annotated[StrictInt, Field(ge=1, le=CLAIM_LIMIT_MAX)] = 50
    # At least a few seconds, so a lease cannot lapse before the runner reads the answer;
    # at most an hour, so a crashed runner's personas come back the same hour.
    leaseSeconds: Annotated[StrictInt, Field(ge=5, le=3600)] = 600
    costFree: StrictBool = Field(
        default=False,
        description="The claiming runner's driver costs nothing (a local model): the fleet "
        "budget does not stop this claim, and what it leases reserves nothing.",
    )


class ClaimHeartbeat(RequestModel):
    runnerId: text(ID_MAX, 1)
    leaseSeconds: Annotated[StrictInt, Field(ge=5, le=3600)] = 600


class ClaimRelease(RequestModel):
    """The query string of DELETE /claims/<personaId>."""

    runnerId: text(ID_MAX, 1)


DRIVER_MAX = 100
# numeric(14, 6) holds less than 10^8 dollars; no tick costs anything near this cap.
COST_MAX = 1_000_000
# A tick's usage, each field: far above any real tick, and low enough that the day's
# rollups (bigint) would need billions of maximal reports to overflow.
TOKENS_MAX = 10**9
Tokens = Annotated[StrictInt, Field(ge=0, le=TOKENS_MAX)]
TRACE_ID_PATTERN = "^[0-9a-f]{32}$"


def _cost(value: float) -> float:
    return check_finite(value, 0, COST_MAX)


class TickUsage(RequestModel):
    inputTokens: Tokens | None = None
    outputTokens: Tokens | None = None
    cacheReadTokens: Tokens | None = None
    cacheWriteTokens: Tokens | None = None


class ProductInfo(RequestModel):
    name: text(NAME_MAX, 1)
    version: text(NAME_MAX, 1)


# The steps a runner reports a tick stopped at; `abandoned` is the service's own (a tick
# it closed when the lease lapsed unreported), never a runner's.
ReportedStep = Literal["login", "spaces", "driver", "actions", "feedback", "timeout", "lease"]


class TickReport(RequestModel):
    """The body of PUT /<id>/ticks/<tickId>: a tick's start, or its end."""

    runnerId: text(ID_MAX, 1)
    state: Literal["running", "ok", "failed", "timeout"]
    # Checked even when absent: a failure must name its step.
    step: ReportedStep | None = Field(default=None, validate_default=True)
    error: text(TICK_ERROR_MAX) | None = None
    driver: text(DRIVER_MAX) | None = None
    model: text(NAME_MAX) | None = None
    spaceId: text(ID_MAX) | None = None
    usage: TickUsage | None = None
    costUsd: Annotated[StrictFloat, Field(ge=0, le=COST_MAX), AfterValidator(_cost)] | None = None
    # The OpenTelemetry trace the runner recorded the tick under (W3C trace id, as sent in
    # `traceparent`), so the tick view links to the product's own spans of it.
    traceId: Annotated[StrictStr, Field(pattern=TRACE_ID_PATTERN)] | None = None
    # The product's MCP serverInfo at the handshake: what the releases route compares.
    product: ProductInfo | None = None

    @field_validator("step")
    @classmethod
    def _failures_name_their_step(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("state") in {"failed", "timeout"}:
            raise ValueError("required when state is failed or timeout")
        return value

    @property
    def final(self) -> bool:
        return self.state != "running"


def tick_id(value: str) -> str:
    """A path tick id within the caps of an action's tickId; else a 400 naming it."""
    problem = None
    if not value or len(value) > ID_MAX:
        problem = f"must be 1 to {ID_MAX} characters"
    elif "\x00" in value:
        problem = "must not contain the NUL character (U+0000)"
    if problem:
        raise ValidationFailed(f"tickId: {problem}", [{"field": "tickId", "message": problem}])
    return value


# A transcript: what happened in a tick, event by event (the caps: apibase.limits).


class ModelSaid(RequestModel):
    """What the persona said: the model's text."""

    kind: Literal["model"]
    text: text(MODEL_TEXT_MAX)


class ToolCalled(RequestModel):
    """One tool call: the JSON object sent, and the product's answer as the model saw it
    (cut by the runner to the cap). Output and latency are null for a call cut off in
    flight (a tick over its time), which has neither."""

    kind: Literal["call"]
    tool: text(NAME_MAX, 1)
    arguments: dict[str, Any]
    result: Literal["ok", "error"]
    output: text(CALL_OUTPUT_MAX) | None = None
    latencyMs: Annotated[StrictInt, Field(ge=0, le=2_147_483_647)] | None = None


class RatingGiven(RequestModel):
    module: text(NAME_MAX, 1)
    rating: Annotated[StrictInt, Field(ge=1, le=5)]
    notes: text(TEXT_MAX) | None = None


class RatingsGiven(RequestModel):
    kind: Literal["ratings"]
    ratings: Annotated[list[RatingGiven], Field(max_length=FEEDBACK_MAX)]


class TickStopped(RequestModel):
    """Why the tick stopped, when it did."""

    kind: Literal["error"]
    step: text(STEP_MAX, 1)
    message: text(TICK_ERROR_MAX)


TranscriptEvent = Annotated[ModelSaid | ToolCalled | RatingsGiven | TickStopped, Field(discriminator="kind")]


class Transcript(RequestModel):
    """The body of PUT /<id>/ticks/<tickId>/transcript: the tick's events, in order."""

    # No count of its own: the body's 1 MiB bounds it (a cap on the count would let a
    # document reader build a body of that many events that is only ever a 413).
    events: Annotated[
        list[TranscriptEvent],
        Field(description="The tick's events in order; the whole body is at most 1 MiB."),
    ]


Model = TypeVar("Model", bound=BaseModel)


def field_path(loc: tuple[Any, ...]) -> str:
    """('actions', 3, 'tickId') -> 'actions[3].tickId'; () -> 'body'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def error_details(exc: ValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        # Drop pydantic's internal steps (e.g. 'function-after[...]') from the location.
        loc = tuple(p for p in err["loc"] if isinstance(p, int) or "[" not in str(p))
        detail: dict[str, Any] = {"field": field_path(loc), "message": err["msg"]}
        indexes = [p for p in loc if isinstance(p, int)]
        if indexes:
            detail["index"] = indexes[0]
        details.append(detail)
    return details


def read_json(max_bytes: int | None = None) -> Any:
    """The request body as JSON, or a 400 that says it is not JSON; a route with a cap
    of its own below MAX_BODY_BYTES passes it (a 413 above it, before any parsing)."""
    raw = request.get_data(cache=False) if max_bytes is None else limits.read_at_most(max_bytes)
    try:
        return jsonio.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestRefused("The request body is not valid JSON (UTF-8).") from None


def validate(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = error_details(exc)
        first = details[0]
        raise ValidationFailed(
            f"{first['field']}: {first['message']}"
            + (f" (and {len(details) - 1} more problems)" if len(details) > 1 else ""),
            details,
        ) from None


def parse_body(model: type[Model], max_bytes: int | None = None) -> Model:
    return validate(model, read_json(max_bytes))


def parse_query(model: type[Model]) -> Model:
    """The query string as the model; a repeated parameter counts by its first value."""
    return validate(model, request.args.to_dict())


class PersonaIdConverter(BaseConverter):
    """`<persona:id>`: a path segment that could name a persona (1 to ID_MAX characters, no
    NUL); anything else matches no route, so it is a 404 (after the prefix's gate)."""

    regex = f"[^/\\x00]{{1,{ID_MAX}}}"


ModuleName = text(NAME_MAX, 1)
# The bounds are stated in the OpenAPI document; check_weight decides (and says finite).
ModuleWeight = Annotated[
    StrictFloat, Field(json_schema_extra={"minimum": 0, "maximum": WEIGHT_MAX}), AfterValidator(check_weight)
]
ModuleMix = Annotated[dict[ModuleName, ModuleWeight], AfterValidator(check_module_mix)]
EMAIL_MAX = 254
EMAIL_LOCAL_MAX = 64  # the limit of RFC 5321 on the part before the @
# mana-auth's own password bounds: anything it would refuse is refused here first.
PASSWORD_MIN, PASSWORD_MAX = 8, 128


def _email_shape(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        raise ValueError("must be an email address")
    if "@" in local:
        # Mail systems disagree on which @ splits such an address: never guess.
        raise ValueError("must contain exactly one @")
    if len(local) > EMAIL_LOCAL_MAX:
        raise ValueError(f"the part before @ must be at most {EMAIL_LOCAL_MAX} characters")
    return value


# A persona's settings: what an operator sets, and the admin answers show (PersonaSummary,
# PersonaDescriptor in personas.response_shapes derive from these). A new setting is one
# line here and its column in sql/functions/shapes.sql. Plain models without a config of
# their own: the upsert takes RequestModel's, the answers theirs.


class PersonaListed(BaseModel):
    """The settings the admin list shows, as the detail does."""

    # None: the name mana-auth holds; a name once stored is kept by an upsert that learns none.
    name: text(NAME_MAX, 1) | None = None
    archetype: text(NAME_MAX, 1)
    tickCadence: Cadence = DEFAULT_CADENCE


class PersonaSettings(PersonaListed):
    """Every setting; the detail shows them all, the list those of PersonaListed."""

    systemPrompt: text(PROMPT_MAX, 1)
    moduleMix: ModuleMix

    def settings_dump(self) -> dict[str, Any]:
        """The settings as JSON, named as the JSON names them: personas.upsert_persona reads them."""
        return self.model_dump(mode="json", include=set(PersonaSettings.model_fields))


class PersonaUpsert(PersonaSettings, RequestModel):
    email: Annotated[text(EMAIL_MAX, 3), AfterValidator(_email_shape)]
    password: text(PASSWORD_MAX, PASSWORD_MIN)


INSIGHTS_WEEKS_MAX = 52


def _whole_number(value: Any) -> Any:
    """A query-string number is written in digits: `8`, never `8.0`, `1e1` or `true`."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number written in digits")
    return value


def _blank_is_none(value: str | None) -> str | None:
    return value or None


class InsightsQuery(RequestModel):
    """`?weeks=N&archetype=...&space=...` of the insights route; an empty archetype means all."""

    weeks: Annotated[int, BeforeValidator(_whole_number), Field(ge=1, le=INSIGHTS_WEEKS_MAX)] = 8
    archetype: Annotated[text(NAME_MAX) | None, AfterValidator(_blank_is_none)] = None
    # Which ticks' ratings and tool calls `modules` and `tools` count: those in a shared
    # space (one another persona ticked in too), the others, or all of them.
    space: Literal["shared", "personal", "all"] = "all"


HISTORY_TICKS_MAX = 20


class HistoryQuery(RequestModel):
    """`?ticks=N` of the story so far."""

    ticks: Annotated[int, Field(ge=1, le=HISTORY_TICKS_MAX), BeforeValidator(_whole_number)] = 5


class PageQuery(RequestModel):
    """`?limit=N&cursor=...` of a paged list; without them, the whole list."""

    ROUTE: ClassVar[str]
    # Whether the sort key's timestamp may be null (never-active personas sort first in /due).
    NULLABLE_AT: ClassVar[bool]

    # The bounds listed first reach the OpenAPI document; the digits check runs first anyway.
    limit: Annotated[int, Field(ge=1, le=PAGE_LIMIT_MAX), BeforeValidator(_whole_number)] | None = None
    # The previous page's nextCursor, unchanged.
    cursor: text(CURSOR_MAX, 1) | None = None

    @field_validator("cursor")
    @classmethod
    def _a_cursor_of_this_list(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(cls.ROUTE, value, id_max=ID_MAX, nullable_at=cls.NULLABLE_AT)
        return value

    @property
    def after(self) -> PageKey | None:
        """The sort key the page starts after (None: from the start)."""
        if self.cursor is None:
            return None
        return decode_cursor(self.ROUTE, self.cursor, id_max=ID_MAX, nullable_at=self.NULLABLE_AT)

    def after_params(self) -> dict[str, Any]:
        """The list query's :after_at and :after_id."""
        after = self.after
        return {"after_at": after.at if after else None, "after_id": after.user_id if after else None}


class DuePage(PageQuery):
    ROUTE = "due"
    NULLABLE_AT = True


class PersonaListPage(PageQuery):
    """A page of the admin list, and what it is searched by (each blank or absent: any)."""

    ROUTE = "admin"
    NULLABLE_AT = False

    # A part of the address, in any case (a prefix is a part too).
    email: Annotated[text(EMAIL_MAX) | None, AfterValidator(_blank_is_none)] = None
    archetype: Annotated[text(NAME_MAX) | None, AfterValidator(_blank_is_none)] = None
    cadence: Cadence | None = None
    # Whether the persona fails tick after tick (sql/functions/failing.sql).
    failing: Literal["true", "false"] | None = None

    def search_params(self) -> dict[str, Any]:
        """The list query's :email, :archetype, :cadence and :failing."""
        failing = None if self.failing is None else self.failing == "true"
        return {"email": self.email, "archetype": self.archetype, "cadence": self.cadence, "failing": failing}
