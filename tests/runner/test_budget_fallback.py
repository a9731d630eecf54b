"""Past the fleet budget: a runner with RUNNER_FALLBACK_DRIVER claims again cost-free and
drives those personas with the fallback (the OpenAI driver on devllm's Chat Completions
face), its ticks recorded with that driver and model; one without stops claiming. Against
the API under gunicorn with a budget of $0 (every budgeted claim is empty)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from devstack.processes import Process
from persona_runner.claude import ClaudeDriver
from persona_runner.config import RunnerConfig
from persona_runner.internal_client import InternalClient, budget_reached
from persona_runner.openai_chat import OpenAIDriver
from persona_runner.service import RunnerService
from tests.runner.service_stack import action_rows, add_persona, finished, served_calls, ticks_of, wait_for
from tests.runner.tick_stack import stand_in_config
from tests.support.processes import running_web


@pytest.fixture(scope="module")
def spent_api(service_env: dict[str, str]) -> Iterator[Process]:
    """The API with a fleet budget of $0: every budgeted claim comes back empty."""
    with running_web("web-no-budget", {**service_env, "FLEET_DAILY_BUDGET_USD": "0"}, workers=1) as proc:
        yield proc


@pytest.fixture
def runner_config(db, spent_api, devauth, clean_devmcp, clean_devllm) -> RunnerConfig:
    return replace(
        stand_in_config(spent_api, devauth, clean_devmcp, clean_devllm),
        tick_interval=0.3,
        openai_api_key="local",
        openai_base_url=f"{clean_devllm.url}/v1",
        fallback_driver="openai",
        fallback_model="open-dev",
    )


def test_past_the_budget_a_runner_with_a_fallback_keeps_ticking_on_it(
    runner_config, live_api, admin_token, db, clean_devmcp
):
    persona = add_persona(live_api, admin_token, "frugal")
    since = datetime.now(UTC).isoformat()
    out = io.StringIO()
    fallback = OpenAIDriver(runner_config.for_fallback())
    service = RunnerService(runner_config, ClaudeDriver(runner_config), out=out, fallback=fallback)
    running = threading.Thread(target=service.run)
    running.start()
    try:
        wait_for("the fallback's tick", lambda: finished(db, [persona]), timeout=60)
    finally:
        service.stop()
        running.join(timeout=30)
    [tick] = ticks_of(db, persona.id)
    assert (tick["state"], tick["driver"], tick["model"]) == ("ok", "openai", "open-dev")
    assert float(tick["cost_usd"]) == 0 and tick["input_tokens"] > 0
    assert tick["actions"] >= 3
    assert action_rows(db, [persona]) == served_calls(clean_devmcp, since, [persona])
    assert "the fleet budget is reached; claiming cost-free for the openai driver" in out.getvalue()


def test_past_the_budget_a_runner_without_a_fallback_claims_nothing(runner_config, live_api, admin_token, db):
    persona = add_persona(live_api, admin_token, "stopped")
    service = RunnerService(runner_config, ClaudeDriver(runner_config), out=io.StringIO())
    try:
        service.claim_and_start()
    finally:
        service.claims.close()  # never run: its claims client is closed here
    assert service.inflight == set() and service.jobs.empty()
    # The persona was due all along: a cost-free claim gets it, and says where the budget stands.
    client = InternalClient(runner_config)
    try:
        batch = client.claim("someone-free", 5, 60, cost_free=True)
    finally:
        client.close()
    assert [p.user_id for p in batch.personas] == [persona.id] and batch.budget_reached


@pytest.mark.parametrize(
    ("body", "reached"),
    [
        ({"personas": []}, False),
        ({"personas": [], "budget": {"limitUsd": 5, "spentUsd": 4.5, "reservedUsd": 0.5}}, True),
        ({"personas": [], "budget": {"limitUsd": 5, "spentUsd": 4.5, "reservedUsd": 0.2}}, False),
        ({"personas": [], "budget": {"limitUsd": "5", "spentUsd": 6}}, True),
        ({"personas": [], "budget": {"spentUsd": 6}}, False),
    ],
)
def test_the_budget_is_reached_when_spend_and_reservations_meet_its_limit(body, reached):
    assert budget_reached(body) is reached
