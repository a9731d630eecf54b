"""A runner driver driven as a tick drives it, outside a tick."""

from __future__ import annotations

import asyncio

from persona_runner.drivers import Driver, Story
from persona_runner.models import Persona, Session, TickOutcome


def drive(
    driver: Driver, persona: Persona, session: Session, outcome: TickOutcome | None = None, story: Story = ()
) -> TickOutcome:
    """Await `driver.act` to its end; the outcome it wrote into (a fresh one unless given)."""
    outcome = TickOutcome() if outcome is None else outcome
    asyncio.run(driver.act(persona, session, outcome, story))
    return outcome
