"""One persona's tick, the one implementation `--once` and `serve` share: report it
running, keep its lease alive, log in, read its story, pick the space, let the driver
act, post actions, post ratings, report the final state.

A failure at any step still posts the actions collected before it (the product served
them), reports the tick failed with its step, and releases the lease at once. A lease
lost to another runner (a heartbeat answered 404 or 409) stops the tick at once: the
actions served are posted, the tick is reported failed at step `lease`, and nothing else
(no ratings, no release of a lease that is not ours) is sent for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from persona_runner.auth_client import AuthClient
from persona_runner.config import RunnerConfig
from persona_runner.drivers import Driver, Story
from persona_runner.errors import ApiError, RunnerError
from persona_runner.heartbeat import Heartbeat
from persona_runner.internal_client import InternalClient
from persona_runner.models import Persona, Session, TickOutcome
from persona_runner.password import persona_password
from persona_runner.spaces import choose_space

ERROR_MAX = 2000


class TickFailed(RunnerError):
    """A persona's tick stopped at `step` (login, spaces, driver, actions, feedback, timeout, lease)."""

    state = "failed"

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


class TickTimedOut(TickFailed):
    state = "timeout"

    def __init__(self, reason: str) -> None:
        super().__init__("timeout", reason)


class LeaseLost(TickFailed):
    def __init__(self, reason: str) -> None:
        super().__init__("lease", f"the lease is gone, so another runner may drive this persona: {reason}")


@dataclass
class Guard:
    """Why a tick must stop now, if it must: its lease lost, the runner stopping, or its
    time up."""

    deadline: float
    stop: threading.Event | None = None
    heartbeat: Heartbeat | None = None

    def check_lease(self) -> None:
        if self.heartbeat is not None and self.heartbeat.lost:
            raise LeaseLost(self.heartbeat.lost)

    def reason(self) -> TickFailed | None:
        if self.heartbeat is not None and self.heartbeat.lost:
            return LeaseLost(self.heartbeat.lost)
        if self.stop is not None and self.stop.is_set():
            return TickTimedOut("stopped: the runner is shutting down")
        if time.monotonic() >= self.deadline:
            return TickTimedOut("stopped: the tick ran past RUNNER_TICK_TIMEOUT_S")
        return None


def new_tick_id(now: datetime | None = None) -> str:
    """Unique per tick and persona; sortable by time, readable in the audit."""
    now = now or datetime.now(UTC)
    return f"tick-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def describe(exc: RunnerError) -> str:
    return exc.detail if isinstance(exc, ApiError) else str(exc)


@contextmanager
def step(name: str) -> Iterator[None]:
    try:
        yield
    except TickFailed:
        raise
    except RunnerError as exc:
        raise TickFailed(name, describe(exc)) from exc


@dataclass
class TickResult:
    """How one persona's tick ended, as reported (and what the metrics count)."""

    persona: Persona
    tick_id: str
    state: str = "ok"
    step: str | None = None
    error: str | None = None
    space_id: str | None = None
    outcome: TickOutcome = field(default_factory=TickOutcome)
    seconds: float = 0.0
    actions_posted: bool = False
    notes: list[str] = field(default_factory=list)

    def report(self, runner_id: str) -> dict[str, Any]:
        """The final PUT body of the tick."""
        body: dict[str, Any] = {"runnerId": runner_id, "state": self.state}
        if self.step:
            body["step"] = self.step
        if self.error:
            body["error"] = self.error[:ERROR_MAX]
        if self.outcome.driver:
            body["driver"] = self.outcome.driver
        if self.outcome.model:
            body["model"] = self.outcome.model
        if self.space_id:
            body["spaceId"] = self.space_id
        if self.outcome.product:
            body["product"] = self.outcome.product
        usage = self.outcome.usage
        body["usage"] = {
            "inputTokens": usage.input_tokens,
            "outputTokens": usage.output_tokens,
            "cacheReadTokens": usage.cache_read_tokens,
            "cacheWriteTokens": usage.cache_write_tokens,
        }
        body["costUsd"] = round(usage.cost_usd, 6)
        return body

    def line(self) -> str:
        """`ok      email  summary` or `failed  email  step: reason (notes)`."""
        text = summary(self.outcome, self.tick_id) if self.state == "ok" else f"{self.step}: {self.error}"
        text += "".join(f" ({note})" for note in self.notes)
        return f"{self.state:<7} {self.persona.email}  {text}"


class Tick:
    def __init__(
        self, config: RunnerConfig, driver: Driver, internal: InternalClient, auth: AuthClient
    ) -> None:
        self.config = config
        self.driver = driver
        self.internal = internal
        self.auth = auth

    def drive(
        self, persona: Persona, leased: bool = False, stop: threading.Event | None = None
    ) -> TickResult:
        """One persona's tick, from the running report to the final one; never raises for
        what a tick may meet. `leased`: the persona was claimed (heartbeat, release);
        `stop` set: end the driver now and report the tick timed out."""
        started = time.monotonic()
        result = TickResult(persona, new_tick_id())
        result.outcome.driver = self.driver.name
        self.report(
            result, {"runnerId": self.config.runner_id, "state": "running", "driver": self.driver.name}
        )
        heartbeat = Heartbeat(self.config, persona.user_id) if leased else None
        guard = Guard(started + self.config.tick_timeout, stop, heartbeat)
        with heartbeat or contextlib.nullcontext():
            try:
                feedback_posted = self.steps(persona, result, guard)
            except TickFailed as exc:
                result.state, result.step, result.error = exc.state, exc.step, exc.reason
                feedback_posted = False
                self.post_collected(result)
        result.seconds = time.monotonic() - started
        self.report(result, result.report(self.config.runner_id))
        if leased and not feedback_posted and result.step != "lease":
            self.release(result)
        return result

    def steps(self, persona: Persona, result: TickResult, guard: Guard) -> bool:
        """The tick's steps in order; True when ratings were posted (which ends the lease).
        A lost lease is looked for before each step, and all along the driver's."""
        guard.check_lease()
        with step("login"):
            login = self.auth.login(persona.email, persona_password(persona.email, self.config.seed_secret))
        if login.user_id != persona.user_id:
            # Posting as one persona after logging in as another would corrupt both audits.
            raise TickFailed("login", f"logged in as user {login.user_id}, expected {persona.user_id}")
        guard.check_lease()
        with step("spaces"):
            story = self.internal.history(persona.user_id, self.config.history_ticks)
            space = choose_space(self.auth.spaces(login.token), story)
        result.space_id = space.id
        session = Session(tick_id=result.tick_id, user_id=login.user_id, space_id=space.id, token=login.token)
        self.act(persona, session, story, result.outcome, guard)
        outcome = result.outcome
        guard.check_lease()
        with step("actions"):
            if outcome.actions:
                self.internal.post_actions(persona.user_id, result.tick_id, outcome.actions)
        result.actions_posted = True
        guard.check_lease()
        with step("feedback"):
            if outcome.ratings:
                self.internal.post_feedback(
                    persona.user_id, result.tick_id, outcome.ratings, runner_id=self.config.runner_id
                )
        return bool(outcome.ratings)

    def act(
        self,
        persona: Persona,
        session: Session,
        story: Story,
        outcome: TickOutcome,
        guard: Guard,
    ) -> None:
        """The driver writes into `outcome`; TickFailed at its step when it fails, or
        whatever `guard` says first (TickTimedOut, LeaseLost)."""
        try:
            act = getattr(self.driver, "act", None)
            if act is None:
                self.driver.run_tick(persona, session, story=story, outcome=outcome)
            else:
                asyncio.run(within(act(persona, session, outcome, story, deadline=guard.deadline), guard))
            outcome.check()
        except TickFailed:
            raise
        except RunnerError as exc:
            raise TickFailed(getattr(exc, "step", "driver"), describe(exc)) from exc
        except Exception as exc:  # a driver is foreign code: its bug costs one persona, not the run
            raise TickFailed("driver", f"{type(exc).__name__}: {exc}") from exc

    def post_collected(self, result: TickResult) -> None:
        """After a failure: the actions the product served, unless they are posted already."""
        outcome = result.outcome
        if not outcome.actions or result.actions_posted:
            return
        try:
            outcome.check()
            self.internal.post_actions(result.persona.user_id, result.tick_id, outcome.actions)
        except RunnerError as exc:
            result.notes.append(f"{len(outcome.actions)} collected actions not posted: {describe(exc)}")
            return
        result.actions_posted = True
        result.notes.append(f"{len(outcome.actions)} collected actions posted")

    def report(self, result: TickResult, body: dict[str, Any]) -> None:
        """PUT the tick's state (retried). A report that cannot be made stops nothing:
        a final report creates the tick when `running` never arrived."""
        try:
            self.internal.report_tick(result.persona.user_id, result.tick_id, body)
        except RunnerError as exc:
            result.notes.append(f"tick {body['state']} not recorded: {describe(exc)}")

    def release(self, result: TickResult) -> None:
        """Hand the persona back at once rather than hide it until the lease runs out."""
        try:
            released = self.internal.release(result.persona.user_id, self.config.runner_id)
        except RunnerError as exc:
            result.notes.append(f"lease not released: {describe(exc)}")
            return
        if released and result.state != "ok":
            result.notes.append("lease released")


async def within(work: Any, guard: Guard) -> None:
    """Await the driver's coroutine until it ends or `guard` gives a reason to stop (looked
    at every tenth of a second); then cancel it (what it did so far stays in its outcome)
    and raise that reason."""
    task = asyncio.ensure_future(work)
    while not task.done():
        reason = guard.reason()
        if reason is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise reason
        await asyncio.wait({task}, timeout=min(max(guard.deadline - time.monotonic(), 0), 0.1))
    task.result()


def summary(outcome: TickOutcome, tick_id: str) -> str:
    errors = sum(1 for a in outcome.actions if a.result == "error")
    line = f"{len(outcome.actions)} actions ({errors} error), {len(outcome.ratings)} ratings, {tick_id}"
    usage = outcome.usage
    if usage.requests:
        line += f", {usage.input_tokens}+{usage.output_tokens} tokens, ${usage.cost_usd:.4f}"
    return line
