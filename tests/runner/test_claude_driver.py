"""The Claude driver against real processes: a persona registered in the mana-auth stand-in
and logged in by the runner's own client, the product stand-in (devmcp) over MCP, and the
model stand-in (devllm) through the official SDK. What the driver records is checked
against what devmcp says it served."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from devstack.processes import Process
from persona_runner.auth_client import AuthClient
from persona_runner.claude import STOPPED, ClaudeDriver
from persona_runner.config import RunnerConfig
from persona_runner.drivers import Driver
from persona_runner.errors import DriverFailed, RatingsRefused
from persona_runner.metrics import RunnerMetrics
from persona_runner.models import Persona, Rating, Session, TickOutcome
from persona_runner.password import persona_password
from persona_runner.product import open_product
from persona_runner.spaces import personal_space
from persona_runner.tick import TickResult
from persona_runner.usage import cost_usd
from tests.conftest import SERVICE_KEY
from tests.support.drivers import drive

TIMEOUT = 10
SECRET = "claude-driver-test-secret"
MIX = {"todo": 0.5, "notes": 0.3, "calendar": 0.2}


@pytest.fixture
def config(devauth: Process, clean_devmcp: Process, clean_devllm: Process) -> RunnerConfig:
    return driver_config(devauth, clean_devmcp, clean_devllm)


def driver_config(devauth: Process, devmcp: Process, devllm: Process) -> RunnerConfig:
    """The Claude driver against the stand-ins, personas logging in with SECRET."""
    return stand_in_config(
        devauth, devmcp, anthropic_api_key="dev-key", anthropic_base_url=devllm.url, model="claude-dev"
    )


def stand_in_config(devauth: Process, devmcp: Process, **model: Any) -> RunnerConfig:
    """A runner against the mana-auth and product stand-ins, personas logging in with
    SECRET; `model` names the driver's own settings (its key, its server, its model)."""
    return RunnerConfig(
        auth_url=devauth.url, service_key=SERVICE_KEY, seed_secret=SECRET, mcp_url=devmcp.url, **model
    )


def new_persona(config: RunnerConfig, prompt: str = "You are Kate, a busy nurse.") -> tuple[Persona, Session]:
    """A persona registered in mana-auth, logged in with its derived password, in its personal space."""
    email = f"kate-{uuid.uuid4().hex[:10]}@mana.test"
    password = persona_password(email, SECRET)
    registered = requests.post(
        f"{config.auth_url}/api/v1/auth/register",
        json={"email": email, "password": password, "name": "Kate"},
        headers={"X-Service-Key": SERVICE_KEY},
        timeout=TIMEOUT,
    )
    registered.raise_for_status()
    auth = AuthClient(config)
    try:
        login = auth.login(email, password)
        space = personal_space(auth.spaces(login.token))
    finally:
        auth.close()
    persona = Persona(login.user_id, email, "nurse", prompt, MIX)
    return persona, Session(f"tick-{uuid.uuid4().hex[:8]}", login.user_id, space.id, login.token)


def served_calls(devmcp_url: str, since: datetime, user_id: str) -> list[tuple]:
    answer = requests.get(f"{devmcp_url}/dev/calls", params={"since": since.isoformat()}, timeout=TIMEOUT)
    answer.raise_for_status()
    return [
        (c["tool"], c["userId"], c["spaceId"], c["isError"])
        for c in answer.json()["calls"]
        if c["userId"] == user_id
    ]


def recorded(outcome: TickOutcome, session: Session) -> list[tuple]:
    return [(a.tool_name, session.user_id, session.space_id, a.result == "error") for a in outcome.actions]


def fault(url: str, **body) -> None:
    requests.post(f"{url}/dev/faults", json=body, timeout=TIMEOUT).raise_for_status()


def test_every_action_is_a_call_the_product_served_one_for_one(config):
    persona, session = new_persona(config)
    since = datetime.now(UTC)
    outcome = drive(ClaudeDriver(config), persona, session)

    assert 3 <= len(outcome.actions) <= 8
    assert recorded(outcome, session) == served_calls(config.mcp_url, since, session.user_id)
    for action in outcome.actions:
        assert "." in action.tool_name and action.result == "ok" and action.error_message is None
        assert len(action.input_hash) == 64 and int(action.input_hash, 16) >= 0
        assert isinstance(action.latency_ms, int) and action.latency_ms >= 0
    used = {a.tool_name.split(".")[0] for a in outcome.actions}
    assert {r.module for r in outcome.ratings} == used
    assert all(1 <= r.rating <= 5 for r in outcome.ratings)
    assert (outcome.driver, outcome.model) == ("claude", "claude-dev")


def test_usage_sums_every_request_and_costs_it_at_the_configured_prices(config):
    # Uncached here; test_claude_caching.py prices cache writes and reads.
    config = replace(config, prices=replace(config.prices, input=3.0, output=15.0), prompt_cache=False)
    persona, session = new_persona(config)
    outcome = drive(ClaudeDriver(config), persona, session)
    usage = outcome.usage
    # One request per turn of the day, plus the ratings request.
    assert usage.requests >= 2 and usage.input_tokens > 1000 and usage.output_tokens > 0
    assert usage.cost_usd == pytest.approx(
        cost_usd(usage.input_tokens, usage.output_tokens, 0, 0, config.prices)
    )
    assert usage.cost_usd == pytest.approx((usage.input_tokens * 3 + usage.output_tokens * 15) / 1e6)


def todo_failing_tick(config: RunnerConfig, driver: Driver) -> tuple[TickOutcome, dict[str, Rating]]:
    """A tick of `driver` while the product's todo tools fail: every call it records is one
    the product served, and todo is rated below every other module. The outcome, and the
    ratings by module."""
    fault(config.mcp_url, tool="todo.*")
    persona, session = new_persona(config)
    since = datetime.now(UTC)
    outcome = drive(driver, persona, session)
    assert recorded(outcome, session) == served_calls(config.mcp_url, since, session.user_id)
    ratings = {r.module: r for r in outcome.ratings}
    others = [r.rating for m, r in ratings.items() if m != "todo"]
    assert others and ratings["todo"].rating < min(others)
    return outcome, ratings


def test_a_failing_module_is_rated_lower_with_a_note_naming_the_tool(config):
    outcome, ratings = todo_failing_tick(config, ClaudeDriver(config))
    failed = [a for a in outcome.actions if a.result == "error"]
    assert failed and all(a.tool_name.startswith("todo.") for a in failed)
    for action in failed:
        assert action.error_message == f"{action.tool_name}: the store did not answer"
    assert any(a.tool_name in ratings["todo"].notes for a in failed)


def test_the_model_answering_529_twice_is_retried_and_counted_once(config):
    baseline_persona, baseline_session = new_persona(config)
    baseline = drive(ClaudeDriver(config), baseline_persona, baseline_session)

    fault(str(config.anthropic_base_url), status=529, times=2)
    persona, session = new_persona(config)
    outcome = drive(ClaudeDriver(config), persona, session)

    assert outcome.ratings and len(outcome.actions) == len(baseline.actions)
    assert outcome.usage.requests == baseline.usage.requests
    # The same conversation but for ids and timings: within a few tokens, never a request more.
    slack = 3 * baseline.usage.requests
    assert abs(outcome.usage.input_tokens - baseline.usage.input_tokens) <= slack
    assert abs(outcome.usage.output_tokens - baseline.usage.output_tokens) <= slack


def after_the_first_request(
    config: RunnerConfig, persona, session, outcome: TickOutcome, **llm_fault
) -> None:
    """Drive the tick; while the first request's first tool call stalls in the product,
    set devllm's `llm_fault`, so it meets the requests after the first."""
    fault(config.mcp_url, tool="*", errorRate=0, delayMs=1500, times=1)

    async def tick() -> None:
        driving = asyncio.ensure_future(ClaudeDriver(config).act(persona, session, outcome))
        while outcome.usage.requests == 0 and not driving.done():
            await asyncio.sleep(0.02)
        await asyncio.to_thread(fault, str(config.anthropic_base_url), **llm_fault)
        await driving

    asyncio.run(tick())


def test_the_model_failing_past_the_retries_fails_at_driver_with_usage_so_far(config):
    persona, session = new_persona(config)
    outcome = TickOutcome()
    with pytest.raises(DriverFailed) as failed:
        after_the_first_request(config, persona, session, outcome, status=529, times=3)
    assert failed.value.step == "driver" and "529" in str(failed.value)
    usage = outcome.usage
    assert (
        usage.requests == 1
        and usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens > 0
        and usage.cost_usd > 0
    )
    assert outcome.actions and not outcome.ratings


def test_a_rate_limit_asking_to_wait_past_the_ticks_time_fails_at_once(config):
    fault(str(config.anthropic_base_url), status=429, retryAfter=3600, times=3)
    persona, session = new_persona(config)
    started = time.monotonic()
    with pytest.raises(DriverFailed) as failed:
        asyncio.run(ClaudeDriver(config).act(persona, session, TickOutcome(), deadline=started + 60))
    assert time.monotonic() - started < 15
    assert failed.value.step == "driver" and str(failed.value).startswith("model: 429 rate_limit_error")
    assert "3600 s" in str(failed.value)


def test_a_refusal_in_the_day_fails_at_driver_saying_the_model_refused(config):
    fault(str(config.anthropic_base_url), stopReason="refusal")
    persona, session = new_persona(config)
    outcome = TickOutcome()
    with pytest.raises(DriverFailed) as failed:
        drive(ClaudeDriver(config), persona, session, outcome=outcome)
    assert failed.value.step == "driver" and "refused" in str(failed.value)
    assert outcome.actions == [] and outcome.usage.requests == 1


def test_a_refusal_to_rate_fails_at_feedback_saying_the_model_refused(config):
    config = replace(config, max_turns=1)  # one request for the day, then the ratings
    persona, session = new_persona(config)
    outcome = TickOutcome()
    with pytest.raises(RatingsRefused) as refused:
        after_the_first_request(config, persona, session, outcome, stopReason="refusal")
    assert refused.value.step == "feedback" and "refused to rate" in str(refused.value)
    assert outcome.actions and outcome.ratings == [] and outcome.usage.requests == 2


def test_ratings_cut_at_max_tokens_are_asked_once_more_with_more_room(config):
    config = replace(config, max_turns=1)
    persona, session = new_persona(config)
    outcome = TickOutcome()
    after_the_first_request(config, persona, session, outcome, stopReason="max_tokens")
    assert outcome.usage.requests == 3
    assert {r.module for r in outcome.ratings} == {a.tool_name.split(".")[0] for a in outcome.actions}


def test_ratings_cut_twice_count_as_refused(config):
    config = replace(config, max_turns=1)
    persona, session = new_persona(config)
    outcome = TickOutcome()
    with pytest.raises(RatingsRefused) as refused:
        after_the_first_request(config, persona, session, outcome, stopReason="max_tokens", times=2)
    assert refused.value.step == "feedback" and "max_tokens" in str(refused.value)
    assert outcome.ratings == [] and outcome.usage.requests == 3


def test_the_context_window_filling_ends_the_day_and_the_day_is_still_rated(config):
    persona, session = new_persona(config)
    outcome = TickOutcome()
    since = datetime.now(UTC)
    after_the_first_request(config, persona, session, outcome, stopReason="model_context_window_exceeded")
    # The second answer was cut: its half-written calls never reach the product.
    assert outcome.usage.requests == 3 and 1 <= len(outcome.actions) <= 2
    assert recorded(outcome, session) == served_calls(config.mcp_url, since, session.user_id)
    assert {r.module for r in outcome.ratings} == {a.tool_name.split(".")[0] for a in outcome.actions}


def test_a_product_refusing_the_token_fails_at_driver(config):
    persona, session = new_persona(config)
    refused = replace(session, token="not-a-jwt")
    with pytest.raises(DriverFailed) as failed:
        drive(ClaudeDriver(config), persona, refused)
    assert failed.value.step == "driver"
    assert "MCP session" in str(failed.value) and "401" in str(failed.value)


def test_ratings_that_do_not_fit_the_schema_fail_at_feedback_and_none_are_kept(config):
    fault(str(config.anthropic_base_url), badRatings=True)
    persona, session = new_persona(config)
    outcome = TickOutcome()
    with pytest.raises(RatingsRefused) as refused:
        drive(ClaudeDriver(config), persona, session, outcome=outcome)
    assert refused.value.step == "feedback"
    assert "ratings.0.rating" in str(refused.value) and "out of 5" in str(refused.value)
    assert outcome.actions and outcome.ratings == [] and outcome.usage.requests >= 2


def test_the_token_cap_ends_the_day_and_the_day_is_still_rated(config):
    persona, session = new_persona(config)
    uncapped = drive(ClaudeDriver(config), persona, session)
    # A key of its own: the first request writes the tools to the cache, which counts whole.
    capped_config = replace(config, max_tokens_per_tick=1000, anthropic_api_key=f"cap-{uuid.uuid4().hex}")
    persona, session = new_persona(capped_config)
    since = datetime.now(UTC)
    capped = drive(ClaudeDriver(capped_config), persona, session)

    # The first request alone passes the cap: its calls are answered, then only the ratings.
    assert capped.usage.requests == 2 < uncapped.usage.requests
    assert 1 <= len(capped.actions) < len(uncapped.actions)
    assert recorded(capped, session) == served_calls(config.mcp_url, since, session.user_id)
    assert {r.module for r in capped.ratings} == {a.tool_name.split(".")[0] for a in capped.actions}


def test_a_cancelled_tick_keeps_the_actions_collected_so_far(config):
    persona, session = new_persona(config)
    outcome = TickOutcome()
    fault(config.mcp_url, tool="*", errorRate=0, delayMs=800)
    since = datetime.now(UTC)

    async def tick() -> None:
        driving = asyncio.ensure_future(ClaudeDriver(config).act(persona, session, outcome))
        while len(outcome.actions) < 2 and not driving.done():
            await asyncio.sleep(0.02)
        driving.cancel()
        await driving

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(tick())
    served = [a for a in outcome.actions if a.error_message != STOPPED]
    assert len(served) >= 2 and not outcome.ratings
    assert all(a.error_message == STOPPED for a in outcome.actions[len(served) :])
    assert (
        recorded(replace_actions(outcome, served), session)
        == served_calls(config.mcp_url, since, session.user_id)[: len(served)]
    )


def replace_actions(outcome: TickOutcome, actions: list) -> TickOutcome:
    return TickOutcome(actions=actions)


def set_listing(url: str, **switch) -> None:
    requests.post(f"{url}/dev/listing", json=switch, timeout=TIMEOUT).raise_for_status()


TODO_TOOLS = ("todo.create", "todo.list", "todo.update", "todo.complete")


def test_a_result_the_sdk_refuses_is_an_error_action_and_the_day_goes_on(config):
    # Declared output schemas devmcp's answers (text, no structured content) do not meet.
    declared = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    set_listing(config.mcp_url, outputSchema=dict.fromkeys(TODO_TOOLS, declared))
    persona, session = new_persona(config)
    since = datetime.now(UTC)
    outcome = drive(ClaudeDriver(config), persona, session)

    served = served_calls(config.mcp_url, since, session.user_id)
    assert [a.tool_name for a in outcome.actions] == [tool for tool, *_ in served]
    # What devmcp answered without error under a declared output schema, the SDK refused.
    refused = [
        a
        for a, (tool, *_, failed) in zip(outcome.actions, served, strict=True)
        if tool in TODO_TOOLS and not failed
    ]
    assert refused and all(a.result == "error" and a.latency_ms is not None for a in refused)
    assert all(
        "has an output schema but did not return structured content" in a.error_message for a in refused
    )
    assert all(a.result == "ok" for a in outcome.actions if not a.tool_name.startswith("todo."))
    assert "todo" in {r.module for r in outcome.ratings}


def test_a_tool_whose_input_schema_is_not_json_schema_is_left_out_and_counted(config, caplog):
    broken = {"type": "object", "properties": {"title": {"type": "text"}}}
    set_listing(config.mcp_url, inputSchema={"todo.create": broken, "notes.create": broken})
    persona, session = new_persona(config)
    with caplog.at_level(logging.WARNING, logger="persona_runner.claude"):
        outcome = drive(ClaudeDriver(config), persona, session)

    assert len(outcome.actions) >= 3 and outcome.ratings
    assert not {"todo.create", "notes.create"} & {a.tool_name for a in outcome.actions}
    assert outcome.tools_skipped == 2
    [line] = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert "todo.create" in line and "notes.create" in line and "2020-12" in line
    metrics = RunnerMetrics()
    metrics.count(TickResult(persona, session.tick_id, outcome=outcome))
    assert metrics.registry.get_sample_value("persona_tools_skipped_total") == 2


def test_every_page_of_the_tool_list_is_offered(config):
    _, session = new_persona(config)

    async def listed() -> list[str]:
        async with open_product(config.mcp_url, session.token, session.space_id, 5) as product:
            return [tool.name for tool in await product.tools()]

    whole = asyncio.run(listed())
    set_listing(config.mcp_url, pageSize=4)
    assert asyncio.run(listed()) == whole and len(whole) > 8


def test_the_event_stream_outlives_the_call_timeout_and_closes_quietly(config, caplog):
    """The session's GET stream is silent between server messages: it must not time out
    at the per-call timeout, and its end at session close is no news for the log."""
    _, session = new_persona(config)
    call_timeout = 0.5

    async def idle_session() -> list[str]:
        async with open_product(config.mcp_url, session.token, session.space_id, call_timeout) as product:
            await product.tools()
            deadline = time.monotonic() + 4 * call_timeout
            while time.monotonic() < deadline and not stream_lines(caplog):
                await asyncio.sleep(0.05)
            broken = stream_lines(caplog)
            answer = await product.call("todo.list", {})
        assert not answer.is_error
        return broken

    with caplog.at_level(logging.DEBUG, logger="mcp.client.streamable_http"):
        assert asyncio.run(idle_session()) == []
        assert stream_lines(caplog) == []


def stream_lines(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith(("GET stream error", "GET stream disc"))
    ]
