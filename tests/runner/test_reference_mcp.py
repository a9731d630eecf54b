"""The Claude driver against the official MCP reference server (`server-everything`), with
devllm as the model: a persona's day through tools no one here wrote, every call audited
under the server's own names, whatever came back (an image, an error, a call that ran
past its timeout)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from datetime import date

import pytest

from devstack.processes import Process
from persona_runner.claude import ClaudeDriver
from persona_runner.config import RunnerConfig
from persona_runner.models import Persona, Session
from persona_runner.product import open_session
from persona_runner.tool_results import model_blocks
from tests.support.counterparts import reference_mcp_server
from tests.support.drivers import drive

# A fixed day makes devllm's conversation, and so its calls and their arguments, the same
# on every run: on this one it calls the four favoured tools in order, then four others.
DAY = date(2025, 6, 1)
CALL_TIMEOUT = 1.0
MIX = {
    "get-tiny-image": 0.4,
    "simulate-research-query": 0.3,
    "trigger-long-running-operation": 0.2,
    "echo": 0.1,
}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def everything() -> Iterator[Process]:
    with reference_mcp_server() as server:
        yield server


@pytest.fixture
def config(everything: Process, clean_devllm: Process) -> RunnerConfig:
    return RunnerConfig(
        mcp_url=everything.url,
        mcp_timeout=CALL_TIMEOUT,
        anthropic_api_key="dev-key",
        anthropic_base_url=clean_devllm.url,
        model="claude-dev",
    )


def persona_in(mix: dict[str, float]) -> tuple[Persona, Session]:
    """A persona with no account anywhere: the reference server asks for none, and the
    token and space headers the runner sends mean nothing to it."""
    user_id = str(uuid.uuid4())
    persona = Persona(
        user_id, f"ref-{user_id[:8]}@mana.test", "tester", "You are Ada, who tries things.", mix
    )
    return persona, Session(f"tick-{user_id[:8]}", user_id, "no-space", "no-token")


def served_tools(url: str) -> set[str]:
    async def listed() -> set[str]:
        async with open_session(f"{url}/mcp", {}, 10) as product:
            return {tool.name for tool in await product.tools()}

    return asyncio.run(listed())


def test_a_tick_through_the_reference_server_audits_every_call(config):
    persona, session = persona_in(MIX)
    outcome = drive(ClaudeDriver(config, today=lambda: DAY), persona, session)

    actions = outcome.actions
    assert [a.tool_name for a in actions[:4]] == list(MIX) and len(actions) <= 8
    assert {a.tool_name for a in actions} <= served_tools(config.mcp_url)
    image, refused, long_running, after = actions[:4]
    assert image.result == "ok"
    assert refused.result == "error" and "requires task augmentation" in refused.error_message
    assert long_running.result == "error" and "timed out" in long_running.error_message
    assert CALL_TIMEOUT * 1000 <= long_running.latency_ms < CALL_TIMEOUT * 1000 + 2000
    assert after.result == "ok"  # the session outlived the timed-out call
    assert all(a.result == "ok" for a in actions[4:])
    assert all(len(a.input_hash) == 64 for a in actions)
    ratings = {r.module: r.rating for r in outcome.ratings}
    assert set(ratings) == {a.tool_name for a in actions}
    assert ratings["simulate-research-query"] <= 3 and ratings["trigger-long-running-operation"] <= 3


def test_images_and_text_resources_reach_the_model_as_themselves(everything):
    async def answers():
        async with open_session(f"{everything.url}/mcp", {}, 10) as product:
            image = await product.call("get-tiny-image", {})
            resource = await product.call("get-resource-reference", {"resourceType": "Text", "resourceId": 1})
            return model_blocks(image.content, image.text), model_blocks(resource.content, resource.text)

    image_blocks, resource_blocks = asyncio.run(answers())
    [shown] = [b for b in image_blocks if b["type"] == "image"]
    assert shown["source"]["type"] == "base64" and shown["source"]["media_type"] == "image/png"
    assert base64.b64decode(shown["source"]["data"]).startswith(PNG)
    texts = [b["text"] for b in resource_blocks if b["type"] == "text"]
    assert any("[resource demo://resource/dynamic/text/1]" in t and "Resource 1:" in t for t in texts)
    assert not any("[resource]" in t or "[image]" in t for t in texts)
