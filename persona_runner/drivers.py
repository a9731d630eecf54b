"""Drivers decide what a persona does in a tick. The real runner's driver is an LLM
conversation; the scripted one here is fixed and offline, so that an operator can
smoke-test a deployment end to end and get the same rows every time."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from persona_runner.config import RunnerConfig
from persona_runner.errors import RunnerConfigError
from persona_runner.models import Action, Persona, Rating, Session, TickOutcome

Story = Sequence[Mapping[str, Any]]
"""Earlier ticks, shaped like the personas API's history answer (newest first)."""


class Driver(Protocol):
    """What a tick asks of a driver (`Tick.act` awaits it under the tick's guard)."""

    name: str

    async def act(
        self,
        persona: Persona,
        session: Session,
        outcome: TickOutcome,
        story: Story = (),
        deadline: float | None = None,
    ) -> None:
        """Act as `persona` inside `session`, writing each tool call and rating into
        `outcome` as it goes, so the caller keeps what was done when the driver raises or
        is cancelled. `deadline` (time.monotonic) bounds any wait the driver chooses."""
        ...

    async def open_worker(self) -> None:
        """A worker of the runner service starts: what the driver keeps for the ticks
        driven in the running event loop, until `close_worker` in that same loop."""
        ...

    async def close_worker(self) -> None:
        """That worker stops: what `open_worker` made, closed inside its own loop."""
        ...


class ScriptedDriver:
    """Lists and creates in the persona's top modules, fails one search on purpose, rates.

    Everything depends only on the persona and the session's space, never on the
    clock or chance: the same inputs give the same tick.
    """

    name = "scripted"
    modules_per_tick = 3
    tools_per_module = ("list", "create")

    async def act(
        self,
        persona: Persona,
        session: Session,
        outcome: TickOutcome,
        story: Story = (),
        deadline: float | None = None,
    ) -> None:
        modules = top_modules(persona.module_mix, self.modules_per_tick)
        actions = [
            self._call(persona, session, f"{module}.{verb}")
            for module in modules
            for verb in self.tools_per_module
        ]
        if modules:
            # One failure per tick, so the audit and the dashboard always have one to show.
            actions.append(
                self._call(
                    persona,
                    session,
                    f"{modules[0]}.search",
                    error="scripted failure: the search is failed on purpose once per tick",
                )
            )
        for action in actions:
            output = action.error_message or "scripted: nothing was sent to the product"
            arguments = scripted_input(persona, session, action.tool_name)
            outcome.transcript.called(
                action.tool_name, arguments, action.result == "error", output, action.latency_ms
            )
        outcome.driver = self.name
        outcome.actions.extend(actions)
        outcome.ratings.extend(self._rate(persona, m, actions) for m in modules)

    async def open_worker(self) -> None:
        """Nothing to keep: it calls nothing."""

    async def close_worker(self) -> None:
        """Nothing kept."""

    def _call(self, persona: Persona, session: Session, tool: str, error: str | None = None) -> Action:
        tool_input = scripted_input(persona, session, tool)
        return Action(
            tool_name=tool,
            result="error" if error else "ok",
            latency_ms=40 + stable_number(persona.email, tool) % 460,
            input_hash=hashlib.sha256(json.dumps(tool_input, sort_keys=True).encode()).hexdigest(),
            error_message=error,
        )

    def _rate(self, persona: Persona, module: str, actions: list[Action]) -> Rating:
        failed = [
            a.tool_name for a in actions if a.result == "error" and a.tool_name.startswith(f"{module}.")
        ]
        if failed:
            return Rating(module, 2, f"scripted: {', '.join(failed)} returned an error")
        calls = sum(1 for a in actions if a.tool_name.startswith(f"{module}."))
        return Rating(
            module, 3 + stable_number(persona.email, module) % 3, f"scripted: {calls} calls, all ok"
        )


def scripted_input(persona: Persona, session: Session, tool: str) -> dict[str, Any]:
    """What the scripted driver says it sent (it sends nothing: it runs offline)."""
    return {"tool": tool, "spaceId": session.space_id, "persona": persona.email}


def top_modules(module_mix: dict[str, float], count: int) -> list[str]:
    """The heaviest modules with a positive weight; ties go to the name, for stability."""
    weighted = sorted((m for m, w in module_mix.items() if w > 0), key=lambda m: (-module_mix[m], m))
    return weighted[:count]


def stable_number(*parts: str) -> int:
    """A number derived from the parts alone (Python's hash() changes per process)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:4], "big")


def make_driver(name: str, config: RunnerConfig) -> Driver:
    """The driver called `name` (scripted, claude, openai); RunnerConfigError when it cannot run."""
    # The model drivers are imported here so the scripted one never loads the model and MCP SDKs.
    if name == ScriptedDriver.name:
        return ScriptedDriver()
    if name == "claude":
        from persona_runner.claude import ClaudeDriver

        return ClaudeDriver(config)
    if name == "openai":
        from persona_runner.openai_chat import OpenAIDriver

        return OpenAIDriver(config)
    raise RunnerConfigError(f"no driver called {name!r}")


def make_fallback(config: RunnerConfig) -> Driver | None:
    """The driver for past the fleet budget (RUNNER_FALLBACK_DRIVER), with its own model
    at no price; None when there is none."""
    if not config.fallback_driver:
        return None
    return make_driver(config.fallback_driver, config.for_fallback())
