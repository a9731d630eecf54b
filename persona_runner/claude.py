"""The Claude driver: a persona spends a short day in the product through its MCP server,
with Claude deciding each tool call, then rates the modules it used.

`act` is a coroutine writing into a `TickOutcome` the caller owns: each action as the
product answers, each request's usage as the model answers. A caller that cancels it
(a tick timeout) or sees it fail still has everything done so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import anthropic
from anthropic.types import Message

from apibase.client_errors import ExpectedError
from persona_runner.config import RunnerConfig
from persona_runner.day_prompts import opening_turn, ratings_request, system_prompt
from persona_runner.errors import DriverFailed, RatingsRefused, RunnerConfigError
from persona_runner.model_waits import bounded_waits, error_text
from persona_runner.models import Action, Persona, Session, TickOutcome
from persona_runner.product import Product, open_product
from persona_runner.prompt_cache import cached_request
from persona_runner.ratings import RATINGS_TOOL, module_of, parse_ratings, ratings_tool, shown
from persona_runner.tool_names import ToolNames, map_tool_names
from persona_runner.tool_results import model_blocks, text_block
from persona_runner.tool_schemas import usable_tools
from persona_runner.tracing import chat_span
from persona_runner.transcript import shown_text
from persona_runner.worker_clients import WorkerClients, model_client

MAX_OUTPUT_TOKENS = 1024
# A ratings answer cut at max_tokens is asked once more with this much room.
RATINGS_RETRY_TOKENS = 4 * MAX_OUTPUT_TOKENS
ERROR_TEXT_MAX = 500
RATINGS_CHOICE = {"type": "tool", "name": RATINGS_TOOL}
STOPPED = "the tick was stopped before the product answered"
log = logging.getLogger("persona_runner.claude")


def input_hash(tool_input: Any) -> str:
    """SHA-256 hex of the canonical JSON input: sorted keys, no spaces, UTF-8."""
    canonical = json.dumps(tool_input, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def took_line(latency_ms: int) -> dict[str, Any]:
    return text_block(f"took {latency_ms} ms")


class ModelCalls:
    """One tick's requests to the Messages API, each one's usage added to the outcome."""

    def __init__(self, client: anthropic.AsyncAnthropic, config: RunnerConfig, outcome: TickOutcome) -> None:
        self.client = client
        self.config = config
        self.outcome = outcome

    def tokens_left(self) -> int:
        return self.config.max_tokens_per_tick - self.outcome.usage.capped

    async def ask(
        self, system: str, messages: list[dict], tools: list[dict], max_tokens: int, **choice: Any
    ) -> Message:
        """One answer, after the SDK's own retries; what still fails is DriverFailed.
        With RUNNER_PROMPT_CACHE on, the request carries its cache breakpoints."""
        if self.config.prompt_cache:
            prompt = cached_request(tools, system, messages)
        else:
            prompt = {"tools": tools, "system": system, "messages": messages}
        try:
            with chat_span(self.config.model, max_tokens) as span:
                reply = await self.client.messages.create(
                    model=self.config.model, max_tokens=max_tokens, **prompt, **choice
                )
                span.answered(reply)
        except anthropic.APIStatusError as exc:
            raise DriverFailed(f"model: {exc.status_code} {model_error_text(exc)}") from exc
        except anthropic.APIError as exc:
            raise DriverFailed(f"model: {type(exc).__name__}: {exc}") from exc
        self.outcome.usage.add(reply.usage, self.config.prices)
        self.outcome.transcript.said("\n\n".join(b.text for b in reply.content if b.type == "text"))
        return reply


def model_error_text(exc: anthropic.APIStatusError) -> str:
    return error_text(exc.body, str(exc))


def assistant_turn(reply: Message, keep_tool_use: bool) -> dict[str, Any] | None:
    """The reply as the next request's assistant message (tool_use blocks kept only when
    they will be answered); None when nothing is left to send back. Thinking blocks go
    back exactly as they came: the API checks their signatures."""
    content: list[dict[str, Any]] = []
    for block in reply.content:
        if block.type == "text" and block.text:
            content.append({"type": "text", "text": block.text})
        elif block.type == "tool_use" and keep_tool_use:
            content.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
        elif block.type in ("thinking", "redacted_thinking"):
            content.append(block.to_dict(mode="json"))
    return {"role": "assistant", "content": content} if content else None


def said(reply: Message) -> str:
    """The reply's blocks, short, for an error that has to show what came back."""
    return shown([b.to_dict(mode="json", exclude_none=True) for b in reply.content])


async def answer_tool_use(block: Any, product: Product, names: ToolNames, outcome: TickOutcome) -> dict:
    """Call the product for one tool_use, record the action, return the tool_result."""
    product_name = names.product_name(block.name)
    if block.name == RATINGS_TOOL:  # offered all day (a stable prefix), used only when asked
        return tool_result(block.id, [text_block(f"{RATINGS_TOOL}: rate your day once it is over")], True)
    if product_name is None:  # never sent to the product, so no action row
        return tool_result(block.id, [text_block(f"{block.name}: no such tool was offered")], True)
    arguments = block.input if isinstance(block.input, dict) else {}
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
    return tool_result(block.id, [*shown, took_line(answer.latency_ms)], answer.is_error)


def tool_result(tool_use_id: str, content: list[dict[str, Any]], is_error: bool) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": content, "is_error": is_error}


async def play_day(
    model: ModelCalls, product: Product, names: ToolNames, tools: list[dict], system: str, opening: str
) -> list[dict]:
    """The day: answer every tool_use until the model ends its turn, the turns run out,
    or the tick's tokens reach the cap. An answer cut short (`max_tokens`, or
    `model_context_window_exceeded`) ends the day too, its half-written tool_use never
    sent; a refusal fails the tick. Returns the conversation."""
    messages: list[dict] = [{"role": "user", "content": opening}]
    for _ in range(model.config.max_turns):
        if model.tokens_left() <= 0:
            break
        reply = await model.ask(system, messages, tools, min(MAX_OUTPUT_TOKENS, model.tokens_left()))
        if reply.stop_reason == "refusal":
            raise DriverFailed(f"model: refused to go on with the day (stop_reason refusal): {said(reply)}")
        uses = [b for b in reply.content if b.type == "tool_use"]
        answering = reply.stop_reason == "tool_use" and bool(uses)
        turn = assistant_turn(reply, keep_tool_use=answering)
        if turn:
            messages.append(turn)
        if not answering:
            break
        results = [await answer_tool_use(b, product, names, model.outcome) for b in uses]
        messages.append({"role": "user", "content": results})
    return messages


def then_user(messages: list[dict], text: str) -> list[dict]:
    """`messages` with `text` as the next user words (joined to a trailing user turn)."""
    last = messages[-1]
    if last["role"] != "user":
        return [*messages, {"role": "user", "content": text}]
    content = last["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    return [*messages[:-1], {"role": "user", "content": [*blocks, {"type": "text", "text": text}]}]


async def rate_day(
    model: ModelCalls, system: str, messages: list[dict], tools: list[dict], modules: list[str]
):
    """Ask for `submit_ratings` for the modules used (named in the last user turn) and
    check its input strictly; RatingsRefused otherwise.

    It is asked for with the tools and tool_choice as they were all day, so the request
    reads the whole day from the cache: the API keys the conversation's cache on
    tool_choice, so forcing the tool would write the day again. Only an answer without
    the call is asked once more with `submit_ratings` forced. It runs even when the day
    stopped at the token cap (the day is what the cap ends), bounded by MAX_OUTPUT_TOKENS
    like any request; an answer cut at max_tokens (its input half-written) is asked once
    more with RATINGS_RETRY_TOKENS of room."""
    asked = then_user(messages, ratings_request(modules))
    reply = await ratings_answer(model, system, asked, tools)
    if not ratings_call(reply):
        reply = await ratings_answer(model, system, asked, tools, tool_choice=RATINGS_CHOICE)
    used = ratings_call(reply)
    if used is None:
        raise RatingsRefused(f"no submit_ratings call came back ({reply.stop_reason}): {said(reply)}")
    return parse_ratings(used.input, modules)


async def ratings_answer(model: ModelCalls, system: str, messages: list[dict], tools: list[dict], **choice):
    """One ratings answer (a second one with more room when the first is cut at
    max_tokens); RatingsRefused for a refusal or an answer cut short twice."""
    reply = await model.ask(system, messages, tools, MAX_OUTPUT_TOKENS, **choice)
    if reply.stop_reason == "max_tokens":
        reply = await model.ask(system, messages, tools, RATINGS_RETRY_TOKENS, **choice)
    if reply.stop_reason == "refusal":
        raise RatingsRefused(f"model: refused to rate the day (stop_reason refusal): {said(reply)}")
    if reply.stop_reason in ("max_tokens", "model_context_window_exceeded"):
        raise RatingsRefused(f"submit_ratings was cut short ({reply.stop_reason}): {said(reply)}")
    return reply


def ratings_call(reply: Message) -> Any:
    return next((b for b in reply.content if b.type == "tool_use" and b.name == RATINGS_TOOL), None)


def model_tools(product_tools, names: ToolNames) -> list[dict]:
    """What the model sees, the same for every persona of one product (so the tools'
    cache is shared): each tool by its mapped name, the product name leading the
    description, in the product's order; then `submit_ratings` over every module of the
    product (which of them were used is said in the ratings request and checked)."""
    offered = [
        {
            "name": names.model_name(tool.name),
            "description": f"{tool.name}: {tool.description}".strip(),
            "input_schema": tool.input_schema,
        }
        for tool in product_tools
    ]
    return [*offered, ratings_tool(sorted({module_of(t.name) for t in product_tools}))]


def offered_tools(product_tools: list, persona: Persona, outcome: TickOutcome) -> list:
    """The tools the model can be given; the others are left out for this tick, said once."""
    usable, skipped = usable_tools(product_tools)
    if skipped:
        outcome.tools_skipped = len(skipped)
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        log.warning("%s: %d product tool(s) left out of this tick: %s", persona.email, len(skipped), reasons)
    return usable


class ClaudeDriver:
    name = "claude"

    def __init__(self, config: RunnerConfig, today: Callable[[], date] | None = None) -> None:
        if not config.anthropic_api_key:
            raise RunnerConfigError(
                "ANTHROPIC_API_KEY is not set: the claude driver needs one (devllm takes any)"
            )
        self.config = config
        self.today = today or (lambda: datetime.now(UTC).date())
        # Each worker's clients, by the event loop they belong to (see worker_clients).
        self._kept: dict[asyncio.AbstractEventLoop, WorkerClients] = {}
        self._lock = threading.Lock()

    async def act(
        self,
        persona: Persona,
        session: Session,
        outcome: TickOutcome,
        story: Sequence[Mapping[str, Any]] = (),
        deadline: float | None = None,
    ) -> None:
        """The tick, written into `outcome` as it goes; DriverFailed (step driver or
        feedback) when the model or the product fails it. `deadline` (time.monotonic,
        RUNNER_TICK_TIMEOUT_S from now when not given) bounds any wait the model asks for."""
        outcome.driver, outcome.model = self.name, self.config.model
        if deadline is None:
            deadline = time.monotonic() + self.config.tick_timeout
        try:
            await self._act(persona, session, outcome, story, deadline)
        except BaseExceptionGroup as group:  # the SDKs' task groups wrap what the body raised
            raise first_runner_error(group) or group from None

    async def open_worker(self) -> None:
        """Keep a model client and a pool of product connections for every tick driven in
        the running event loop (a worker's), until `close_worker` in that same loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if loop not in self._kept:
                self._kept[loop] = WorkerClients.open(self.config)

    async def close_worker(self) -> None:
        with self._lock:
            kept = self._kept.pop(asyncio.get_running_loop(), None)
        if kept is not None:
            await kept.close()

    def worker_clients(self) -> WorkerClients | None:
        """The clients kept for the running event loop, if a worker keeps some there."""
        with self._lock:
            return self._kept.get(asyncio.get_running_loop())

    async def _act(
        self, persona: Persona, session: Session, outcome: TickOutcome, story, deadline: float
    ) -> None:
        config = self.config
        kept = self.worker_clients()
        async with contextlib.AsyncExitStack() as per_tick:
            if kept is None:  # no worker keeps clients here (--once, a test): this tick's own
                client = await per_tick.enter_async_context(model_client(config))
            else:
                client = kept.model
            product = await per_tick.enter_async_context(
                open_product(
                    config.mcp_url,
                    session.token,
                    session.space_id,
                    config.mcp_timeout,
                    transport=kept.product_transport() if kept else None,
                )
            )
            outcome.product = product.info
            product_tools = offered_tools(await product.tools(), persona, outcome)
            names = map_tool_names([t.name for t in product_tools], reserved=[RATINGS_TOOL])
            tools = model_tools(product_tools, names)
            # A copy with this tick's deadline: it shares the client's connections.
            model = ModelCalls(client.with_options(middleware=[bounded_waits(deadline)]), config, outcome)
            system = system_prompt(persona, self.today(), story)
            messages = await play_day(model, product, names, tools, system, opening_turn(persona))
            modules = sorted({module_of(a.tool_name) for a in outcome.actions})
            if modules:
                outcome.ratings.extend(await rate_day(model, system, messages, tools, modules))


def first_runner_error(group: BaseExceptionGroup) -> ExpectedError | None:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found = first_runner_error(exc)
            if found:
                return found
        elif isinstance(exc, ExpectedError):
            return exc
    return None
