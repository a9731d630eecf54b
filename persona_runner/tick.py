"""One persona's tick, the one implementation `--once` and `serve` share: report it
running, keep its lease alive, log in, read its story, pick the space, let the driver
act, post actions, post ratings, report the final state.

A failure at any step still posts the actions collected before it (the product served
them), reports the tick failed with its step, and releases the lease at once. A lease
lost to another runner (a heartbeat answered 404 or 409) stops the tick at once: the
actions served are posted, the tick is reported failed at step `lease`, and nothing else
(no ratings, no release of a lease that is not ours) is sent for it.

What a tick posts (actions, ratings, the final report, its transcript, the release) is
retried until it is accepted or the tick's lease would lapse (its end as the heartbeats
last extended it), so an API that blinks loses nothing; what is still not accepted then
is logged for replay (`unposted`) and the tick goes on with its next post.

Every tick, whatever its outcome, ends with its transcript sent once (after the final
report, which creates the tick when `running` never arrived); a transcript not kept is
logged and counted, never a failure of the tick. With traces on, the tick is one trace
(`tracing`) whose id goes with its reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apibase.client_errors import ExpectedError, StatusError
from apibase.limits import TICK_ERROR_MAX
from persona_runner.auth_client import AuthClient
from persona_runner.config import RunnerConfig
from persona_runner.drivers import Driver, Story
from persona_runner.errors import Unposted
from persona_runner.heartbeat import Heartbeat
from persona_runner.internal_client import InternalClient
from persona_runner.lease import LeaseClock, post_deadline
from persona_runner.models import Persona, Session, TickOutcome
from persona_runner.password import persona_password
from persona_runner.spaces import choose_space
from persona_runner.tracing import Tracing
from persona_runner.unposted import log_unposted

log = logging.getLogger("persona_runner.tick")


class TickFailed(ExpectedError):
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


def error_line(exc: ExpectedError) -> str:
    if isinstance(exc, Unposted):
        exc = exc.cause
    return exc.detail if isinstance(exc, StatusError) else str(exc)


@contextmanager
def step(name: str) -> Iterator[None]:
    try:
        yield
    except TickFailed:
        raise
    except ExpectedError as exc:
        raise TickFailed(name, error_line(exc)) from exc


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
    actions_posted: bool = False  # posted, or logged for replay
    transcript_sent: bool = False  # accepted by the API (not merely logged for replay)
    trace_id: str | None = None  # the tick's OpenTelemetry trace, when traced
    notes: list[str] = field(default_factory=list)
    # Until when its posts are retried (time.monotonic); see post_deadline.
    deadline: Callable[[], float] = field(default=time.monotonic, repr=False)

    def running(self, runner_id: str) -> dict[str, Any]:
        """The PUT body that says the tick started."""
        body = {"runnerId": runner_id, "state": "running", "driver": self.outcome.driver}
        return {**body, "traceId": self.trace_id} if self.trace_id else body

    def report(self, runner_id: str) -> dict[str, Any]:
        """The final PUT body of the tick."""
        body: dict[str, Any] = {"runnerId": runner_id, "state": self.state}
        if self.trace_id:
            body["traceId"] = self.trace_id
        if self.step:
            body["step"] = self.step
        if self.error:
            body["error"] = self.error[:TICK_ERROR_MAX]
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
        self,
        config: RunnerConfig,
        driver: Driver,
        internal: InternalClient,
        auth: AuthClient,
        run_driver: Callable[[Coroutine[Any, Any, Any]], Any] = asyncio.run,
    ) -> None:
        """`run_driver` runs the driver's coroutine to its end: a new event loop each time
        (`asyncio.run`), or a worker's own, which keeps its clients across ticks."""
        self.config = config
        self.driver = driver
        self.internal = internal
        self.auth = auth
        self.run_driver = run_driver
        self.tracing = Tracing.exporting(config.traces_endpoint, config.service_name)

    def drive(
        self,
        persona: Persona,
        leased: bool = False,
        stop: threading.Event | None = None,
        claimed_at: float | None = None,
    ) -> TickResult:
        """One persona's tick, from the running report to the transcript; never raises for
        what a tick may meet. `leased`: the persona was claimed (heartbeat, release), at
        `claimed_at` (time.monotonic before the claim was sent; the tick's start if not
        given, as for an unleased tick); `stop` set: end the driver now and report the tick
        timed out."""
        result = TickResult(persona, new_tick_id())
        result.outcome.driver = self.driver.name
        with self.tracing.tick(persona.email, persona.user_id, result.tick_id) as span:
            result.trace_id = span.trace_id
            self.run(result, leased, stop, claimed_at)
            span.ended(result.state, result.step, result.error)
        return result

    def run(
        self, result: TickResult, leased: bool, stop: threading.Event | None, claimed_at: float | None
    ) -> None:
        started = time.monotonic()
        persona = result.persona
        lease = LeaseClock(started if claimed_at is None else claimed_at, self.config.lease_seconds)
        result.deadline = post_deadline(lease, stop, self.config.grace_seconds)
        # Not retried past the usual attempts: the final report creates the tick anyway.
        self.report(result, result.running(self.config.runner_id))
        heartbeat = Heartbeat(self.config, persona.user_id, lease) if leased else None
        guard = Guard(started + self.config.tick_timeout, stop, heartbeat)
        # The heartbeat lives until the posts are done: it keeps the lease, and with it
        # their deadline, alive while they are retried.
        with heartbeat or contextlib.nullcontext():
            try:
                lease_ended = self.steps(persona, result, guard)
            except TickFailed as exc:
                result.state, result.step, result.error = exc.state, exc.step, exc.reason
                lease_ended = False
                self.post_collected(result)
            if heartbeat is not None and lease_ended:
                heartbeat.stop()  # the ratings ended the lease: a beat now would find none
            result.seconds = time.monotonic() - started
            self.report(result, result.report(self.config.runner_id), final=True)
            self.send_transcript(result)
            if leased and not lease_ended and result.step != "lease":
                self.release(result)

    def steps(self, persona: Persona, result: TickResult, guard: Guard) -> bool:
        """The tick's steps in order; True when ratings were accepted (which ends the lease).
        A lost lease is looked for before each step, and all along the driver's."""
        guard.check_lease()
        with step("login"):
            login = self.auth.login(persona.email, persona_password(persona.email, self.config.seed_secret))
        if login.user_id != persona.user_id:
            # Posting as one persona after logging in as another would corrupt both audits.
            raise TickFailed("login", f"logged in as user {login.user_id}, expected {persona.user_id}")
        guard.check_lease()
        # Two services, two clients: asked at once, the tick waits for the slower only.
        with step("spaces"), ThreadPoolExecutor(max_workers=1, thread_name_prefix="spaces") as aside:
            spaces = aside.submit(self.auth.spaces, login.token)
            story = self.internal.history(persona.user_id, self.config.history_ticks)
            space = choose_space(spaces.result(), story)
        result.space_id = space.id
        session = Session(tick_id=result.tick_id, user_id=login.user_id, space_id=space.id, token=login.token)
        self.act(persona, session, story, result.outcome, guard)
        outcome = result.outcome
        guard.check_lease()
        with step("actions"):
            if outcome.actions:
                self.deliver(result, "actions", self.internal.post_actions, outcome.actions)
        result.actions_posted = True
        guard.check_lease()
        if not outcome.ratings:
            return False
        with step("feedback"):
            return self.deliver(
                result, "ratings", self.internal.post_feedback, outcome.ratings, self.config.runner_id
            )

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
            acting = self.driver.act(persona, session, outcome, story, deadline=guard.deadline)
            self.run_driver(within(acting, guard))
            outcome.check()
        except TickFailed:
            raise
        except ExpectedError as exc:
            raise TickFailed(getattr(exc, "step", "driver"), error_line(exc)) from exc
        except Exception as exc:  # a driver is foreign code: its bug costs one persona, not the run
            raise TickFailed("driver", f"{type(exc).__name__}: {exc}") from exc

    def post_collected(self, result: TickResult) -> None:
        """After a failure: the actions the product served, unless they are posted already."""
        outcome = result.outcome
        if not outcome.actions or result.actions_posted:
            return
        try:
            outcome.check()
            posted = self.deliver(result, "collected actions", self.internal.post_actions, outcome.actions)
        except ExpectedError as exc:
            result.notes.append(f"{len(outcome.actions)} collected actions not posted: {error_line(exc)}")
            return
        result.actions_posted = True
        if posted:
            result.notes.append(f"{len(outcome.actions)} collected actions posted")

    def send_transcript(self, result: TickResult) -> None:
        """Once, whatever the outcome (a lost lease too: it is this tick's own record). One
        the API refuses is logged; one it never answers is logged for replay; either way
        the tick goes on as it ended."""
        stopped = (result.step or result.state, result.error or "") if result.state != "ok" else None
        body = result.outcome.transcript.body(result.outcome.ratings, stopped)
        try:
            result.transcript_sent = self.deliver(result, "transcript", self.internal.put_transcript, body)
        except ExpectedError as exc:
            log.warning(
                "transcript of %s %s not kept: %s", result.persona.email, result.tick_id, error_line(exc)
            )
            result.notes.append(f"transcript not kept: {error_line(exc)}")

    def deliver(self, result: TickResult, what: str, post: Callable[..., Any], *args: Any) -> bool:
        """`post(persona, tick, *args, until=...)`, retried until the lease would lapse;
        True once accepted. Still not accepted, it is logged for replay and False."""
        try:
            post(result.persona.user_id, result.tick_id, *args, until=result.deadline)
        except Unposted as exc:
            log_unposted(exc)
            result.notes.append(f"{what} logged for replay: {error_line(exc)}")
            return False
        return True

    def report(self, result: TickResult, body: dict[str, Any], final: bool = False) -> None:
        """PUT the tick's state. A report that cannot be made stops nothing: a final report
        creates the tick when `running` never arrived, and is itself retried until the
        lease would lapse, then logged for replay."""
        try:
            if final:
                self.deliver(result, f"tick {body['state']}", self.internal.report_tick, body)
            else:
                self.internal.report_tick(result.persona.user_id, result.tick_id, body)
        except ExpectedError as exc:
            result.notes.append(f"tick {body['state']} not recorded: {error_line(exc)}")

    def release(self, result: TickResult) -> None:
        """Hand the persona back at once rather than hide it until the lease runs out."""
        try:
            released = self.internal.release(
                result.persona.user_id, self.config.runner_id, until=result.deadline
            )
        except Unposted as exc:
            log_unposted(exc)
            result.notes.append(f"lease release logged for replay: {error_line(exc)}")
            return
        except ExpectedError as exc:
            result.notes.append(f"lease not released: {error_line(exc)}")
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
