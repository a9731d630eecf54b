"""The day a model spends as a persona, whatever API it speaks: the loop of requests and
product calls, the ratings request and its strict check, the audit of every call, the
usage and cost of every request, the transcript and the chat spans. An adapter per API
(`claude.py`, `openai_chat.py`) only writes the requests and reads the answers, in the
neutral shapes below; the loop never sees a wire format.

Stop reasons are the Messages API's words (`tool_use`, `end_turn`, `max_tokens`,
`refusal`, `model_context_window_exceeded`): an adapter reads its API's into them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from persona_runner.config import RunnerConfig
from persona_runner.day_prompts import ratings_request
from persona_runner.errors import DriverFailed, RatingsRefused
from persona_runner.models import Action, Rating, TickOutcome
from persona_runner.product import Product
from persona_runner.ratings import RATINGS_TOOL, parse_ratings
from persona_runner.tool_names import ToolNames
from persona_runner.tool_results import model_blocks, text_block
from persona_runner.tracing import chat_span
from persona_runner.transcript import shown_text
from persona_runner.usage import Tokens

MAX_OUTPUT_TOKENS = 1024
# A ratings answer cut at max_tokens is asked once more with this much room.
RATINGS_RETRY_TOKENS = 4 * MAX_OUTPUT_TOKENS
ERROR_TEXT_MAX = 500
STOPPED = "the tick was stopped before the product answered"
CUT_SHORT = ("max_tokens", "model_context_window_exceeded")


@dataclass(frozen=True)
class Call:
    """One tool call of an answer. `problem` says why its input cannot be used (arguments
    that are not a JSON object): such a call is answered as an error, never sent.
    `written` is the input as the model wrote it, where an API sends it back so."""

    id: str
    name: str
    input: Any
    problem: str | None = None
    written: str = ""


@dataclass(frozen=True)
class Reply:
    """One answer, read out of its API's shape; `raw` is the SDK's object, for the adapter
    that writes it back into the conversation."""

    stop: str
    text: str
    calls: list[Call]
    tokens: Tokens
    shown: str  # the answer, short, for an error that has to show what came back
    raw: Any
    response_id: str = ""
    response_model: str = ""
    finish_reason: str = ""


@dataclass(frozen=True)
class CallResult:
    """What the product answered one call, as Messages API content blocks (text, image);
    the adapter writes it in its API's shape."""

    call_id: str
    blocks: list[dict[str, Any]]
    is_error: bool


class Adapter(Protocol):
    """One API's requests and answers for one tick (its tools and system prompt fixed)."""

    provider: str  # gen_ai.provider.name of its chat spans
    api_error: type[Exception]  # what its SDK raises when a request fails, retries spent
    # How the ratings are asked for: one entry per try, whether submit_ratings is forced.
    ratings_forcing: tuple[bool, ...]

    def start(self, opening: str) -> list[dict]: ...

    async def send(self, conversation: list[dict], max_tokens: int, forced: bool) -> Reply:
        """One answer after the SDK's own retries; `api_error` when it still fails."""
        ...

    def failed(self, exc: Exception) -> DriverFailed:
        """The SDK's error as the tick's (`model: <status> <type>: <message>`)."""
        ...

    def add_reply(self, conversation: list[dict], reply: Reply, answering: bool) -> None: ...

    def add_results(self, conversation: list[dict], results: list[CallResult]) -> None: ...

    def then_user(self, conversation: list[dict], text: str) -> list[dict]: ...


@dataclass
class ModelCalls:
    """One tick's requests, each one's usage and text added to the outcome as it answers."""

    adapter: Adapter
    config: RunnerConfig
    outcome: TickOutcome

    def tokens_left(self) -> int:
        return self.config.max_tokens_per_tick - self.outcome.usage.capped

    async def ask(self, conversation: list[dict], max_tokens: int, forced: bool = False) -> Reply:
        """One answer; DriverFailed when the request fails past the SDK's retries (the
        chat span names the SDK's error)."""
        adapter = self.adapter
        try:
            with chat_span(self.config.model, max_tokens, adapter.provider) as span:
                reply = await adapter.send(conversation, max_tokens, forced)
                span.answered(reply)
        except adapter.api_error as exc:
            raise adapter.failed(exc) from exc
        self.outcome.usage.add_tokens(reply.tokens, self.config.prices)
        self.outcome.transcript.said(reply.text)
        return reply


def input_hash(tool_input: Any) -> str:
    """SHA-256 hex of the canonical JSON input: sorted keys, no spaces, UTF-8."""
    canonical = json.dumps(tool_input, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def took_line(latency_ms: int) -> dict[str, Any]:
    return text_block(f"took {latency_ms} ms")


def refused(call: Call, text: str) -> CallResult:
    return CallResult(call.id, [text_block(text)], True)


async def answer_call(call: Call, product: Product, names: ToolNames, outcome: TickOutcome) -> CallResult:
    """Call the product for one tool call, record the action, return what the model sees.
    A call that is never sent to the product (the ratings tool, a name never offered,
    arguments that are not a JSON object) is answered as an error and has no action row."""
    product_name = names.product_name(call.name)
    if call.name == RATINGS_TOOL:  # offered all day (a stable prefix), used only when asked
        return refused(call, f"{RATINGS_TOOL}: rate your day once it is over")
    if product_name is None:
        return refused(call, f"{call.name}: no such tool was offered")
    if call.problem is not None:
        return refused(call, f"{call.name}: {call.problem}; nothing was sent, call it again")
    arguments = call.input
    try:
        answer = await product.call(product_name, arguments)
    except asyncio.CancelledError:
        # The call went out and the product may have acted on it: the audit keeps it.
        outcome.actions.append(Action(product_name, "error", None, input_hash(arguments), STOPPED))
        outcome.transcript.called(product_name, arguments, True, None, None)
        raise
    outcome.actions.append(
        Action(
            tool_name=product_name,
            result="error" if answer.is_error else "ok",
            latency_ms=answer.latency_ms,
            input_hash=input_hash(arguments),
            error_message=answer.text[:ERROR_TEXT_MAX] if answer.is_error else None,
        )
    )
    shown = model_blocks(answer.content, answer.text)
    outcome.transcript.called(product_name, arguments, answer.is_error, shown_text(shown), answer.latency_ms)
    return CallResult(call.id, [*shown, took_line(answer.latency_ms)], answer.is_error)


async def play_day(model: ModelCalls, product: Product, names: ToolNames, opening: str) -> list[dict]:
    """The day: answer every tool call until the model ends its turn, the turns run out,
    or the tick's tokens reach the cap. An answer cut short (`max_tokens`, or
    `model_context_window_exceeded`) ends the day too, its half-written call never
    sent; a refusal fails the tick. Returns the conversation."""
    adapter = model.adapter
    conversation = adapter.start(opening)
    for _ in range(model.config.max_turns):
        if model.tokens_left() <= 0:
            break
        reply = await model.ask(conversation, min(MAX_OUTPUT_TOKENS, model.tokens_left()))
        if reply.stop == "refusal":
            raise DriverFailed(f"model: refused to go on with the day (stop_reason refusal): {reply.shown}")
        answering = reply.stop == "tool_use" and bool(reply.calls)
        adapter.add_reply(conversation, reply, answering)
        if not answering:
            break
        results = [await answer_call(c, product, names, model.outcome) for c in reply.calls]
        adapter.add_results(conversation, results)
    return conversation


async def rate_day(model: ModelCalls, conversation: list[dict], modules: Sequence[str]) -> list[Rating]:
    """Ask for `submit_ratings` for the modules used (named in the last user turn), as the
    adapter's tries say (forced or not), and check its input strictly; RatingsRefused
    otherwise. It runs even when the day stopped at the token cap (the day is what the
    cap ends), bounded by MAX_OUTPUT_TOKENS like any request."""
    asked = model.adapter.then_user(conversation, ratings_request(modules))
    for forced in model.adapter.ratings_forcing:
        reply = await ratings_answer(model, asked, forced)
        used = next((c for c in reply.calls if c.name == RATINGS_TOOL), None)
        if used is not None:
            break
    if used is None:
        raise RatingsRefused(f"no submit_ratings call came back ({reply.stop}): {reply.shown}")
    if used.problem is not None:
        raise RatingsRefused(f"submit_ratings: {used.problem}; got {reply.shown}")
    return parse_ratings(used.input, modules)


async def ratings_answer(model: ModelCalls, conversation: list[dict], forced: bool) -> Reply:
    """One ratings answer (a second one with more room when the first is cut at
    max_tokens, its input half-written); RatingsRefused for a refusal or an answer cut
    short twice."""
    reply = await model.ask(conversation, MAX_OUTPUT_TOKENS, forced)
    if reply.stop == "max_tokens":
        reply = await model.ask(conversation, RATINGS_RETRY_TOKENS, forced)
    if reply.stop == "refusal":
        raise RatingsRefused(f"model: refused to rate the day (stop_reason refusal): {reply.shown}")
    if reply.stop in CUT_SHORT:
        raise RatingsRefused(f"submit_ratings was cut short ({reply.stop}): {reply.shown}")
    return reply
