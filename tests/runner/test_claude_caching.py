"""The Claude driver's prompt caching against devllm (which bills as the API does) and
devmcp: the prefix stays the same all through a tick, the ratings request included, the
tools are shared by the personas of one product, and usage counts every kind at its price."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from devstack.devllm_log import requests_sent
from devstack.processes import Process
from persona_runner.claude import ClaudeDriver
from persona_runner.config import RunnerConfig
from persona_runner.errors import RatingsRefused
from persona_runner.usage import Usage, cost_usd
from tests.runner.test_claude_driver import TIMEOUT, driver_config, fault, new_persona
from tests.support.drivers import drive


@pytest.fixture
def config(devauth: Process, clean_devmcp: Process, clean_devllm: Process) -> RunnerConfig:
    return driver_config(devauth, clean_devmcp, clean_devllm)


def own_key(config: RunnerConfig, **changes) -> RunnerConfig:
    """A key of its own: devllm's caches (and its request log) are per key."""
    return replace(config, anthropic_api_key=f"caching-{uuid.uuid4().hex}", **changes)


def sent(config: RunnerConfig) -> list[dict]:
    return requests_sent(str(config.anthropic_base_url), config.anthropic_api_key, TIMEOUT)


def tools_tokens(request: dict) -> int:
    return sum(tokens for _, tokens, level in request["blocks"] if level == "tools")


def test_the_prefix_stays_the_same_through_a_tick_the_ratings_request_included(config):
    config = own_key(config)
    persona, session = new_persona(config)
    outcome = drive(ClaudeDriver(config), persona, session)
    requests_ = sent(config)

    assert len(requests_) == outcome.usage.requests >= 3 and outcome.ratings
    assert len({r["tools"] for r in requests_}) == 1 and len({r["system"] for r in requests_}) == 1
    # The ratings are asked for with tool_choice as it was: a changed one would miss the
    # conversation's cache (the API keys it on tool_choice), so the day would be written twice.
    assert [r["toolChoice"] for r in requests_] == [None] * len(requests_)
    first, *later = [r["usage"] for r in requests_]
    assert first["cache_creation_input_tokens"] >= tools_tokens(requests_[0]) and first["input_tokens"] == 0
    # Each later request reads everything the one before it sent.
    for before, usage in zip(requests_, later, strict=False):
        assert usage["input_tokens"] == 0
        assert usage["cache_read_input_tokens"] == sum(t for _, t, _ in before["blocks"])


def test_ratings_not_given_when_asked_are_forced_with_tool_choice_alone(config):
    config = own_key(config)
    fault(str(config.anthropic_base_url), noToolCall=True, times=1)
    persona, session = new_persona(config)
    outcome = drive(ClaudeDriver(config), persona, session)
    requests_ = sent(config)
    assert outcome.ratings and {r["tools"] for r in requests_} == {requests_[0]["tools"]}
    assert [r["toolChoice"] for r in requests_[-2:]] == [None, {"type": "tool", "name": "submit_ratings"}]


def test_ratings_not_given_even_when_forced_fail_at_feedback(config):
    config = own_key(config)
    fault(str(config.anthropic_base_url), noToolCall=True, times=2)
    persona, session = new_persona(config)
    with pytest.raises(RatingsRefused, match="no submit_ratings call came back"):
        drive(ClaudeDriver(config), persona, session)


def test_a_second_persona_of_the_same_product_reads_the_tools_the_first_wrote(config):
    config = own_key(config)
    for prompt in ("You are Kate, a busy nurse.", "You are Noah, a football coach."):
        persona, session = new_persona(config, prompt)
        drive(ClaudeDriver(config), persona, session)
    requests_ = sent(config)
    kate_first = requests_[0]
    noah_first = next(r for r in requests_ if r["system"] != kate_first["system"])
    assert noah_first["tools"] == kate_first["tools"]
    assert noah_first["usage"]["cache_read_input_tokens"] == tools_tokens(noah_first) > 1024


def test_usage_and_cost_count_cache_writes_and_reads_at_their_own_prices(config):
    config = own_key(config)
    persona, session = new_persona(config)
    usage = drive(ClaudeDriver(config), persona, session).usage
    assert usage.cache_write_tokens > 0 and usage.cache_read_tokens > 0
    assert usage.cost_usd == pytest.approx(
        cost_usd(
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            config.prices,
        )
    )


def test_prompt_cache_off_sends_no_breakpoints_and_bills_every_token_as_input(config):
    config = own_key(config, prompt_cache=False)
    persona, session = new_persona(config)
    usage = drive(ClaudeDriver(config), persona, session).usage
    assert usage.input_tokens > 1024 * usage.requests
    assert (usage.cache_write_tokens, usage.cache_read_tokens) == (0, 0)
    assert all(r["usage"]["cache_read_input_tokens"] == 0 for r in sent(config))


def test_the_token_cap_counts_what_the_tick_is_billed_for():
    usage = Usage(input_tokens=100, output_tokens=50, cache_read_tokens=10_000, cache_write_tokens=2_000)
    assert usage.capped == 100 + 50 + 2_000 + 1_000
    assert Usage(input_tokens=700, output_tokens=300).capped == 1_000
