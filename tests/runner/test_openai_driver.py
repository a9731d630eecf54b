"""The OpenAI driver against real processes: a persona of the mana-auth stand-in, the
product stand-in (devmcp) over MCP, and devllm's Chat Completions face through the
official openai SDK. What the driver records is checked against what devmcp served."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from devstack.processes import Process
from persona_runner.config import FREE, RunnerConfig
from persona_runner.drivers import make_driver, make_fallback
from persona_runner.errors import DriverFailed, RatingsRefused, RunnerConfigError
from persona_runner.models import TickOutcome
from persona_runner.openai_chat import NAMED_CHOICE, OpenAIDriver
from persona_runner.usage import Prices
from tests.runner.test_claude_driver import (
    fault,
    new_persona,
    recorded,
    served_calls,
    stand_in_config,
    todo_failing_tick,
)
from tests.support.drivers import drive


@pytest.fixture
def config(devauth: Process, clean_devmcp: Process, clean_devllm: Process) -> RunnerConfig:
    return stand_in_config(
        devauth,
        clean_devmcp,
        openai_api_key="local",
        openai_base_url=f"{clean_devllm.url}/v1",
        model="open-dev",
        prices=FREE,
    )


def devllm_url(config: RunnerConfig) -> str:
    return str(config.openai_base_url).removesuffix("/v1")


def modules_used(outcome: TickOutcome) -> set[str]:
    return {a.tool_name.split(".")[0] for a in outcome.actions}


def test_every_action_is_a_call_the_product_served_and_the_ratings_are_strict(config):
    """devllm answers one call a turn or two, decided per conversation: ticks go on until
    one had several calls in one answer (each persona's is even odds)."""
    config = replace(config, prices=Prices(input=1.0, output=2.0, cache_read=0.0, cache_write=0.0))
    driver = OpenAIDriver(config)
    for n in range(8):
        persona, session = new_persona(config, f"You are Kate, nurse number {n}.")
        since = datetime.now(UTC)
        outcome = drive(driver, persona, session)
        assert 3 <= len(outcome.actions) <= 8
        assert recorded(outcome, session) == served_calls(config.mcp_url, since, session.user_id)
        assert all(a.result == "ok" and len(a.input_hash) == 64 for a in outcome.actions)
        assert {r.module for r in outcome.ratings} == modules_used(outcome)
        assert all(type(r.rating) is int and 1 <= r.rating <= 5 and r.notes for r in outcome.ratings)
        assert (outcome.driver, outcome.model) == ("openai", "open-dev")
        usage = outcome.usage
        assert usage.input_tokens > 1000 and usage.output_tokens > 0
        assert usage.cost_usd == pytest.approx((usage.input_tokens + 2 * usage.output_tokens) / 1e6)
        calls = [e for e in outcome.transcript.events if e["kind"] == "call"]
        assert [c["tool"] for c in calls] == [a.tool_name for a in outcome.actions]
        # One request per answer of the day, the closing one and the ratings: fewer than
        # one per call when some answer carried several.
        if usage.requests < len(outcome.actions) + 2:
            return
    raise AssertionError("no tick had an answer with several tool calls")


def test_a_failing_module_is_rated_lower_from_the_error_the_model_saw(config):
    todo_failing_tick(config, OpenAIDriver(config))


def test_malformed_arguments_are_answered_as_errors_and_never_reach_the_product(config):
    fault(devllm_url(config), malformedArguments=True, times=1)  # the first answer's calls
    persona, session = new_persona(config)
    since = datetime.now(UTC)
    outcome = drive(OpenAIDriver(config), persona, session)

    # Only the calls that went out are actions, one for one with what devmcp served.
    assert recorded(outcome, session) == served_calls(config.mcp_url, since, session.user_id)
    # The broken answer's words, then straight the next answer's: none of its calls went out.
    first, second = outcome.transcript.events[:2]
    assert first["text"].startswith("Next I'll use ") and second["kind"] == "model"
    # The model was told, as that call's error, and says so in its ratings.
    assert any("arguments are not JSON" in (r.notes or "") for r in outcome.ratings)


def test_a_forced_rating_answered_in_words_fails_at_feedback_with_the_actions_kept(config):
    fault(devllm_url(config), noToolCall=True, times=1)
    persona, session = new_persona(config)
    outcome = TickOutcome()
    with pytest.raises(RatingsRefused) as refused:
        drive(OpenAIDriver(config), persona, session, outcome=outcome)
    assert refused.value.step == "feedback" and "no submit_ratings call came back" in str(refused.value)
    assert "Here is how my day went" in str(refused.value)
    assert outcome.actions and outcome.ratings == []


def test_a_server_reporting_no_usage_costs_nothing_and_the_tick_goes_on(config):
    config = replace(config, prices=Prices(input=1.0, output=2.0, cache_read=0.0, cache_write=0.0))
    fault(devllm_url(config), noUsage=True, times=100)
    persona, session = new_persona(config)
    outcome = drive(OpenAIDriver(config), persona, session)
    usage = outcome.usage
    assert outcome.ratings and usage.requests >= 2
    assert (usage.input_tokens, usage.output_tokens, usage.cost_usd) == (0, 0, 0.0)


def test_a_server_without_named_tool_choice_rates_with_required_and_is_remembered(config):
    fault(devllm_url(config), namedToolChoice=False)
    driver = OpenAIDriver(config)
    for _ in range(2):
        persona, session = new_persona(config)
        outcome = drive(driver, persona, session)
        assert {r.module for r in outcome.ratings} == modules_used(outcome)
        assert driver.lacks == {NAMED_CHOICE}
    # The second tick asked by "required" at once: one ratings request, none refused.
    assert outcome.usage.requests >= 2


def test_a_model_error_past_the_retries_fails_at_driver_naming_the_status(config):
    fault(devllm_url(config), status=500, times=3)
    persona, session = new_persona(config)
    with pytest.raises(DriverFailed) as failed:
        drive(OpenAIDriver(config), persona, session)
    assert failed.value.step == "driver" and str(failed.value).startswith("model: 500 server_error")


# --- configuration ---------------------------------------------------------------


def test_the_openai_driver_costs_nothing_unless_priced_and_needs_a_key():
    env = {"MANA_SERVICE_KEY": "k", "RUNNER_DRIVER": "openai", "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}
    config = RunnerConfig.from_env(env)
    assert config.prices == FREE and config.openai_base_url == "http://127.0.0.1:11434/v1"
    assert RunnerConfig.from_env({**env, "RUNNER_PRICE_INPUT_PER_MTOK": "0.5"}).prices.input == 0.5
    assert RunnerConfig.from_env({"MANA_SERVICE_KEY": "k"}, driver="openai").prices == FREE
    with pytest.raises(RunnerConfigError, match="OPENAI_API_KEY"):
        make_driver("openai", config)
    assert make_driver("openai", replace(config, openai_api_key="x")).name == "openai"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"RUNNER_FALLBACK_DRIVER": "claude", "RUNNER_FALLBACK_MODEL": "m"}, "RUNNER_FALLBACK_DRIVER"),
        ({"RUNNER_FALLBACK_DRIVER": "openai"}, "RUNNER_FALLBACK_MODEL"),
        ({"RUNNER_FALLBACK_DRIVER": "openai", "RUNNER_FALLBACK_MODEL": "m"}, "OPENAI_API_KEY"),
        ({"RUNNER_DRIVER": "gpt"}, "RUNNER_DRIVER"),
    ],
)
def test_a_fallback_that_cannot_run_is_refused_at_start_naming_the_variable(env, named):
    with pytest.raises(RunnerConfigError, match=named):
        make_fallback(RunnerConfig.from_env({"MANA_SERVICE_KEY": "k", **env}))


def test_the_fallback_runs_its_own_model_at_no_price():
    env = {
        "MANA_SERVICE_KEY": "k",
        "RUNNER_DRIVER": "claude",
        "ANTHROPIC_API_KEY": "a",
        "RUNNER_MODEL": "claude-sonnet-4-5",
        "RUNNER_FALLBACK_DRIVER": "openai",
        "RUNNER_FALLBACK_MODEL": "qwen3:8b",
        "OPENAI_API_KEY": "ollama",
    }
    config = RunnerConfig.from_env(env)
    fallback = make_fallback(config)
    assert (
        fallback.name == "openai" and fallback.config.model == "qwen3:8b" and fallback.config.prices == FREE
    )
    assert config.model == "claude-sonnet-4-5" and config.prices.input > 0
    assert make_fallback(replace(config, fallback_driver="")) is None
