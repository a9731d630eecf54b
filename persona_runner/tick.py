"""The reference tick loop: claim (or /due), then for each persona log in with the
derived password, pick the personal space, let the driver act, post actions, post ratings.

One persona's failure never stops the others: each gets one line, the tick a summary.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TextIO

from persona_runner.auth_client import AuthClient
from persona_runner.config import RunnerConfig
from persona_runner.drivers import Driver, Story
from persona_runner.errors import ApiError, RunnerError
from persona_runner.internal_client import InternalClient
from persona_runner.models import Persona, Session, TickOutcome
from persona_runner.password import persona_password

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_NO_TICK = 2


class TickFailed(RunnerError):
    """A persona's tick stopped at `step` (login, spaces, driver, actions, feedback)."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step


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


class Tick:
    def __init__(
        self, config: RunnerConfig, driver: Driver, internal: InternalClient, auth: AuthClient
    ) -> None:
        self.config = config
        self.driver = driver
        self.internal = internal
        self.auth = auth

    def drive(self, persona: Persona, story: Story | None = None) -> str:
        """One persona's tick; returns its summary, raises TickFailed naming the step.

        `story` is the persona's earlier ticks (the personas API's history answer) for a
        driver that tells them to the model; None until that route is asked for them.
        """
        tick_id = new_tick_id()
        with step("login"):
            login = self.auth.login(persona.email, persona_password(persona.email, self.config.seed_secret))
        if login.user_id != persona.user_id:
            # Posting as one persona after logging in as another would corrupt both audits.
            raise TickFailed("login", f"logged in as user {login.user_id}, expected {persona.user_id}")
        with step("spaces"):
            space = self.auth.personal_space(login.token)
        session = Session(tick_id=tick_id, user_id=login.user_id, space_id=space.id, token=login.token)
        outcome = self.act(persona, session, story or ())
        with step("actions"):
            if outcome.actions:
                self.internal.post_actions(persona.user_id, tick_id, outcome.actions)
        with step("feedback"):
            if outcome.ratings:
                self.internal.post_feedback(persona.user_id, tick_id, outcome.ratings)
        return summary(outcome, tick_id)

    def act(self, persona: Persona, session: Session, story: Story) -> TickOutcome:
        """The driver's outcome; on its failure the actions it collected are still posted
        (the product served them), then TickFailed at the driver's step."""
        outcome = TickOutcome(driver=self.driver.name)
        try:
            outcome = self.driver.run_tick(persona, session, story=story, outcome=outcome)
            outcome.check()
        except RunnerError as exc:
            posted = self.post_collected(persona, session, outcome)
            raise TickFailed(getattr(exc, "step", "driver"), describe(exc) + posted) from exc
        except Exception as exc:  # a driver is foreign code: its bug costs one persona, not the tick
            raise TickFailed("driver", f"{type(exc).__name__}: {exc}") from exc
        return outcome

    def post_collected(self, persona: Persona, session: Session, outcome: TickOutcome) -> str:
        if not outcome.actions:
            return ""
        try:
            outcome.check()
            self.internal.post_actions(persona.user_id, session.tick_id, outcome.actions)
        except RunnerError as exc:
            return f" ({len(outcome.actions)} collected actions not posted: {describe(exc)})"
        return f" ({len(outcome.actions)} collected actions posted)"

    def release(self, persona: Persona) -> str:
        """Hand a failed persona back at once rather than hide it until the lease runs out."""
        try:
            self.internal.release(persona.user_id, self.config.runner_id)
        except RunnerError as exc:
            return f" (lease not released: {describe(exc)})"
        return " (lease released)"


def summary(outcome: TickOutcome, tick_id: str) -> str:
    errors = sum(1 for a in outcome.actions if a.result == "error")
    line = f"{len(outcome.actions)} actions ({errors} error), {len(outcome.ratings)} ratings, {tick_id}"
    usage = outcome.usage
    if usage.requests:
        line += f", {usage.input_tokens}+{usage.output_tokens} tokens, ${usage.cost_usd:.4f}"
    return line


def run_once(
    config: RunnerConfig,
    driver: Driver,
    limit: int = 50,
    out: TextIO | None = None,
    internal: InternalClient | None = None,
    auth: AuthClient | None = None,
) -> int:
    """One tick over the due personas; 0 if all went well, 1 if any failed, 2 if none ran."""
    out = out or sys.stdout
    internal = internal or InternalClient(config)
    auth = auth or AuthClient(config)
    try:
        try:
            batch = internal.claim_or_due(config.runner_id, limit, config.lease_seconds)
        except RunnerError as exc:
            print(f"tick: cannot get due personas from {config.api_url}: {describe(exc)}", file=out)
            return EXIT_NO_TICK
        if not batch.personas:
            print(f"tick: no personas due (via {batch.source})", file=out)
            return EXIT_OK
        tick = Tick(config, driver, internal, auth)
        failed = 0
        for persona in batch.personas:
            try:
                line = f"ok      {persona.email}  {tick.drive(persona)}"
            except TickFailed as exc:
                failed += 1
                line = f"failed  {persona.email}  {exc}"
                if batch.source == "claims":
                    line += tick.release(persona)
            print(line, file=out, flush=True)
        total = len(batch.personas)
        print(f"tick: {total} personas (via {batch.source}), {total - failed} ok, {failed} failed", file=out)
        return EXIT_SOME_FAILED if failed else EXIT_OK
    finally:
        internal.close()
        auth.close()
