"""devllm bills prompt caching as the Messages API does: breakpoints, the model's minimum,
the order tools → system → messages, a lifetime each hit renews, caches per API key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import anthropic
import pytest
import requests

from devstack.processes import Process
from tests.devllm_fixtures import TIMEOUT

MODEL = "claude-dev"
EPHEMERAL = {"type": "ephemeral"}
SCHEMA = {"type": "object", "properties": {"title": {"type": "string", "maxLength": 200}}}


def product_tools(count: int = 30, words: int = 30) -> list[dict]:
    """Tools of one product: with the defaults, well over the 1,024-token minimum."""
    return [
        {
            "name": f"mod{n}__do",
            "description": f"mod{n}.do: " + " ".join(f"word{n}-{w}" for w in range(words)),
            "input_schema": SCHEMA,
        }
        for n in range(count)
    ]


def marked(tools: list[dict]) -> list[dict]:
    return [*tools[:-1], {**tools[-1], "cache_control": EPHEMERAL}]


def system(text: str) -> list[dict]:
    return [{"type": "text", "text": text, "cache_control": EPHEMERAL}]


def user(text: str, mark: bool = True) -> dict:
    block = {"type": "text", "text": text} | ({"cache_control": EPHEMERAL} if mark else {})
    return {"role": "user", "content": [block]}


@pytest.fixture
def client(clean_devllm: Process) -> Iterator[anthropic.Anthropic]:
    """A key of its own: caches are shared by every request with the same key."""
    key = f"cache-test-{uuid.uuid4().hex}"
    with anthropic.Anthropic(api_key=key, base_url=clean_devllm.url, timeout=TIMEOUT) as sdk:
        yield sdk


def usage(client: anthropic.Anthropic, tools: list[dict], messages: list[dict], **extra) -> tuple:
    reply = client.messages.create(model=MODEL, max_tokens=256, tools=tools, messages=messages, **extra)
    u = reply.usage
    return u.input_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens


def advance(devllm: Process, seconds: int) -> None:
    requests.post(f"{devllm.url}/dev/clock", json={"advanceS": seconds}, timeout=TIMEOUT).raise_for_status()


def test_a_prefix_shorter_than_the_models_minimum_is_not_cached(client):
    short = marked(product_tools(count=3, words=5))
    first = usage(client, short, [user("hi", mark=False)])
    again = usage(client, short, [user("hi", mark=False)])
    assert first[1:] == (0, 0) and again == first
    assert first[0] < 1024


def test_the_tools_are_written_once_then_read_and_the_total_stays_the_same(client):
    tools = marked(product_tools())
    plain_input, _, _ = usage(client, product_tools(), [user("hi", mark=False)])
    first = usage(client, tools, [user("hi", mark=False)])
    again = usage(client, tools, [user("hi", mark=False)])
    assert first[1] >= 1024 and first[2] == 0
    assert again == (first[0], 0, first[1])
    # One token count: the marks move tokens between kinds, never add any.
    assert sum(first) == sum(again) == plain_input


def test_a_changed_tool_list_misses(client):
    tools = product_tools()
    usage(client, marked(tools), [user("hi", mark=False)])
    changed = [*tools[:5], {**tools[5], "description": tools[5]["description"] + " (new)"}, *tools[6:]]
    _, written, read = usage(client, marked(changed), [user("hi", mark=False)])
    assert read == 0 and written >= 1024
    reordered = [tools[1], tools[0], *tools[2:]]
    assert usage(client, marked(reordered), [user("hi", mark=False)])[2] == 0


def test_a_second_persona_of_the_same_product_reads_the_tools(client):
    tools = marked(product_tools())
    tools_only = usage(client, tools, [user("hi", mark=False)])[1]
    kate = usage(client, tools, [user("Spend a day.")], system=system("You are Kate, a nurse. " * 20))
    noah = usage(client, tools, [user("Spend a day.")], system=system("You are Noah, a coach. " * 20))
    assert kate[2] == tools_only and noah[2] == tools_only
    assert noah[1] > 0 and noah[0] == 0  # his own system prompt and turn are written, nothing left over


def test_a_moving_breakpoint_reads_the_conversation_so_far(client):
    tools, sys = marked(product_tools()), system("You are Kate. " * 40)
    turn1 = [user("Spend a day.")]
    _, written1, _ = usage(client, tools, turn1, system=sys)
    turn2 = [user("Spend a day.", mark=False), {"role": "assistant", "content": "I will."}, user("Go on.")]
    inputs, written2, read2 = usage(client, tools, turn2, system=sys)
    assert read2 == written1 and written2 > 0 and inputs == 0


def test_changing_tool_choice_reads_tools_and_system_and_misses_the_messages(client):
    tools, sys = marked(product_tools()), system("You are Kate. " * 40)
    messages = [user("Spend a day.", mark=False), {"role": "assistant", "content": "Done."}, user("Rate it.")]
    usage(client, tools, [user("Spend a day.", mark=False)], system=sys)  # tools and system cached
    _, written, read = usage(client, tools, messages, system=sys)
    forced = usage(client, tools, messages, system=sys, tool_choice={"type": "tool", "name": "mod0__do"})
    assert forced[2] == read and forced[1] == written  # the messages level written again


def test_a_six_minute_gap_misses_and_each_hit_renews_the_five_minutes(client, clean_devllm):
    tools = marked(product_tools())
    written = usage(client, tools, [user("hi", mark=False)])[1]
    advance(clean_devllm, 240)
    assert usage(client, tools, [user("hi", mark=False)])[2] == written
    advance(clean_devllm, 240)  # 8 minutes after the write, 4 after the hit
    assert usage(client, tools, [user("hi", mark=False)])[2] == written
    advance(clean_devllm, 360)
    assert usage(client, tools, [user("hi", mark=False)])[1:] == (written, 0)


def test_an_hour_long_cache_outlives_the_gap(client, clean_devllm):
    tools = product_tools()
    hour = [*tools[:-1], {**tools[-1], "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    written = usage(client, hour, [user("hi", mark=False)])[1]
    advance(clean_devllm, 360)
    assert usage(client, hour, [user("hi", mark=False)])[1:] == (0, written)


def test_caches_are_not_shared_across_api_keys(client, clean_devllm):
    tools = marked(product_tools())
    usage(client, tools, [user("hi", mark=False)])
    with anthropic.Anthropic(api_key=f"other-{uuid.uuid4().hex}", base_url=clean_devllm.url) as other:
        assert usage(other, tools, [user("hi", mark=False)])[2] == 0


def test_more_than_four_breakpoints_are_refused_naming_the_count(client):
    messages = [user("one"), {"role": "assistant", "content": "ok"}, user("two")]
    with pytest.raises(anthropic.BadRequestError) as refused:
        usage(client, marked(product_tools()), messages, system=system("a") + system("b"))
    assert refused.value.body["error"]["type"] == "invalid_request_error"
    assert "A maximum of 4 blocks with cache_control" in refused.value.body["error"]["message"]
    assert "Found 5" in refused.value.body["error"]["message"]


def test_a_bad_ttl_is_refused_and_the_clock_switch_checks_its_body(client, clean_devllm):
    tools = product_tools()
    odd = [*tools[:-1], {**tools[-1], "cache_control": {"type": "ephemeral", "ttl": "2h"}}]
    with pytest.raises(anthropic.BadRequestError, match=r"cache_control\.ttl"):
        usage(client, odd, [user("hi", mark=False)])
    answer = requests.post(f"{clean_devllm.url}/dev/clock", json={"advanceS": -5}, timeout=TIMEOUT)
    assert answer.status_code == 400 and "advanceS" in answer.json()["error"]["message"]


def test_cache_marks_change_no_answer(client):
    plain = client.messages.create(
        model=MODEL,
        max_tokens=512,
        tools=product_tools(),
        system="You are Kate.",
        messages=[user("go", False)],
    )
    cached = client.messages.create(
        model=MODEL,
        max_tokens=512,
        tools=marked(product_tools()),
        system=system("You are Kate."),
        messages=[user("go")],
    )
    strip = lambda reply: [b.model_dump(exclude={"id"}) for b in reply.content]  # noqa: E731
    assert strip(plain) == strip(cached)
