"""What every model driver does around the day (`model_day`): the product's session and
tools, the model's tools, the worker's kept clients, the errors the SDKs' task groups
wrap. A driver for one API (`ClaudeDriver`, `OpenAIDriver`) says only how to make its
client and its adapter.

`act` is a coroutine writing into a `TickOutcome` the caller owns: each action as the
product answers, each request's usage as the model answers. A caller that cancels it
(a tick timeout) or sees it fail still has everything done so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from apibase.client_errors import ExpectedError
from persona_runner.config import RunnerConfig
from persona_runner.day_prompts import opening_turn, system_prompt
from persona_runner.model_day import Adapter, ModelCalls, play_day, rate_day
from persona_runner.models import Persona, Session, TickOutcome
from persona_runner.product import open_product
from persona_runner.ratings import RATINGS_TOOL, module_of, ratings_tool
from persona_runner.tool_names import ToolNames, map_tool_names
from persona_runner.tool_schemas import usable_tools
from persona_runner.worker_clients import WorkerClients

log = logging.getLogger("persona_runner.model_driver")


def model_tools(product_tools, names: ToolNames) -> list[dict]:
    """What the model sees (in the Messages API's shape; an adapter rewrites it), the same
    for every persona of one product (so the tools' cache is shared): each tool by its
    mapped name, the product name leading the description, in the product's order; then
    `submit_ratings` over every module of the product (which of them were used is said in
    the ratings request and checked)."""
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


class ModelDriver:
    """A driver whose persona is a model behind an API; subclasses name the API's client
    and adapter."""

    name = ""

    def __init__(self, config: RunnerConfig, today: Callable[[], date] | None = None) -> None:
        config.api_key_for(self.name)  # refused at construction, not at the first tick
        self.config = config
        self.today = today or (lambda: datetime.now(UTC).date())
        # Each worker's clients, by the event loop they belong to (see worker_clients).
        self._kept: dict[asyncio.AbstractEventLoop, WorkerClients] = {}
        self._lock = threading.Lock()

    def new_client(self) -> Any:
        """The API's async client (timeouts and bounded retries set)."""
        raise NotImplementedError

    def adapter(
        self, client: Any, kept: WorkerClients | None, system: str, tools: list[dict], deadline: float
    ) -> Adapter:
        raise NotImplementedError

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
                self._kept[loop] = WorkerClients.open(self.new_client())

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
                client = await per_tick.enter_async_context(self.new_client())
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
            system = system_prompt(persona, self.today(), story)
            adapter = self.adapter(client, kept, system, model_tools(product_tools, names), deadline)
            model = ModelCalls(adapter, config, outcome)
            conversation = await play_day(model, product, names, opening_turn(persona))
            modules = sorted({module_of(a.tool_name) for a in outcome.actions})
            if modules:
                outcome.ratings.extend(await rate_day(model, conversation, modules))


def first_runner_error(group: BaseExceptionGroup) -> ExpectedError | None:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found = first_runner_error(exc)
            if found:
                return found
        elif isinstance(exc, ExpectedError):
            return exc
    return None
