"""A worker of the runner service keeps the Claude driver's clients across its ticks: one
model client and one pool of product connections per event loop, open from the worker's
first tick to its last and closed inside that loop. Against devauth, devmcp and devllm."""

from __future__ import annotations

import asyncio
import warnings

import pytest

from devstack.processes import Process
from persona_runner.claude import ClaudeDriver
from persona_runner.config import RunnerConfig
from persona_runner.models import TickOutcome
from persona_runner.worker_clients import WorkerClients
from tests.runner.test_claude_driver import driver_config, new_persona


@pytest.fixture
def config(devauth: Process, clean_devmcp: Process, clean_devllm: Process) -> RunnerConfig:
    return driver_config(devauth, clean_devmcp, clean_devllm)


async def tick(driver: ClaudeDriver, config: RunnerConfig) -> tuple[TickOutcome, WorkerClients | None]:
    persona, session = await asyncio.to_thread(new_persona, config)
    outcome = TickOutcome()
    await driver.act(persona, session, outcome)
    return outcome, driver.worker_clients()


def test_a_workers_ticks_share_its_clients_which_it_closes_in_its_own_loop(config):
    driver = ClaudeDriver(config)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        with asyncio.Runner() as loop:
            loop.run(driver.open_worker())
            first, kept = loop.run(tick(driver, config))
            # The first tick's session closed, the second still has the pool and the client.
            second, kept_after = loop.run(tick(driver, config))
            assert kept is not None and kept_after is kept and not kept.model.is_closed()
            assert first.ratings and second.ratings and first.actions and second.actions
            loop.run(driver.close_worker())
            assert kept.model.is_closed()
            # Nothing kept any more: a tick here makes its own clients and closes them.
            third, none = loop.run(tick(driver, config))
            assert none is None and third.ratings


def test_each_event_loop_keeps_its_own_clients(config):
    driver = ClaudeDriver(config)
    kept = []
    for _ in range(2):
        with asyncio.Runner() as loop:
            loop.run(driver.open_worker())
            kept.append(loop.run(tick(driver, config))[1])
            loop.run(driver.close_worker())
    assert kept[0] is not None and kept[1] is not None and kept[0] is not kept[1]
    assert all(k.model.is_closed() for k in kept)
