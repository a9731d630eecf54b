"""With an OTLP endpoint set, each tick is one trace after the GenAI semantic conventions,
received by a real OTLP/HTTP receiver and decoded with the official protobuf messages:
`invoke_agent` at the root, a `chat` span per model request and an `execute_tool` span
per product call under it; the product sees the call's own span in its `traceparent`, and
the tick reports the trace's id."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import httpx2
import pytest

from persona_runner.config import DEFAULT_SERVICE_NAME, RunnerConfig
from persona_runner.product import traceparent
from persona_runner.tracing import Tracing, inject_traceparent, tool_span
from tests.conftest import SERVICE_KEY
from tests.runner.service_stack import add_persona, fault
from tests.runner.tick_stack import drive, served, stand_in_config, tick_detail
from tests.support.otlp import Collector, ReceivedSpan, running_collector


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    with running_collector() as receiver:
        yield receiver
        # Nothing left for the exporter to retry against a closed receiver at exit.
        tracing(receiver).flush()


def tracing(collector: Collector) -> Tracing:
    """The runner's tracing for this receiver: the one its ticks use (one per endpoint)."""
    return Tracing.exporting(f"{collector.url}/v1/traces", DEFAULT_SERVICE_NAME)


@pytest.fixture
def config(db, live_api, devauth, clean_devmcp, clean_devllm, collector):
    base = stand_in_config(live_api, devauth, clean_devmcp, clean_devllm)
    return replace(base, traces_endpoint=f"{collector.url}/v1/traces")


def traceparent_of(trace_id: str, span_id: str) -> str:
    """W3C `traceparent` of a sampled span (the SDK also sets the random-trace-id flag)."""
    return f"00-{trace_id}-{span_id}-03"


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def named(spans: list[ReceivedSpan], prefix: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


@pytest.mark.parametrize(
    ("env", "endpoint"),
    [
        ({}, ""),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, "http://collector:4318/v1/traces"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://cloud.example/api/public/otel/v1/traces",
            },
            "https://cloud.example/api/public/otel/v1/traces",
        ),
    ],
)
def test_the_endpoint_is_read_as_the_opentelemetry_sdk_reads_it(env, endpoint):
    config = RunnerConfig.from_env({"MANA_SERVICE_KEY": SERVICE_KEY, **env})
    assert (config.traces_endpoint, config.service_name) == (endpoint, "persona-runner")
    renamed = RunnerConfig.from_env({"MANA_SERVICE_KEY": SERVICE_KEY, "OTEL_SERVICE_NAME": "runner-eu"})
    assert renamed.service_name == "runner-eu"


def test_every_http_request_to_the_product_carries_the_current_spans_traceparent(collector):
    request = httpx2.Request("POST", "http://product/mcp")
    with tracing(collector).tick("kate@mana.test", "p1", "tick-1") as tick, tool_span("todo.list") as call:
        asyncio.run(traceparent(request))
        span_id = format(call.span.get_span_context().span_id, "016x")
    assert request.headers["traceparent"] == traceparent_of(tick.trace_id, span_id)
    untraced: dict[str, str] = {}
    inject_traceparent(untraced)
    assert untraced == {}


def test_a_traced_tick_is_one_trace_that_the_product_joins(
    config, live_api, admin_token, clean_devmcp, collector
):
    kate = add_persona(live_api, admin_token, "kate")
    fault(clean_devmcp, tool="todo.*")
    since = now_iso()
    result = drive(config, kate)
    tracing(collector).flush()
    assert result.state == "ok" and result.trace_id and len(result.trace_id) == 32
    outcome = result.outcome
    spans = collector.trace(result.trace_id, 1 + outcome.usage.requests + len(outcome.actions))
    assert collector.content_types == {"application/x-protobuf"}

    [root] = [s for s in spans if not s.parent_id]
    assert root.name == f"invoke_agent {kate.email}"
    assert root.attributes == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": kate.email,
        "gen_ai.agent.id": kate.id,
        "gen_ai.conversation.id": result.tick_id,
        "mana.tick.outcome": "ok",
    }
    assert root.resource["service.name"] == "persona-runner"
    assert all(s.parent_id == root.span_id for s in spans if s is not root)

    chats = named(spans, "chat ")
    assert len(chats) == outcome.usage.requests and len(spans) == 1 + len(chats) + len(outcome.actions)
    for chat in chats:
        assert chat.name == "chat claude-dev" and chat.kind == "SPAN_KIND_CLIENT"
        attributes = chat.attributes
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.provider.name"] == "anthropic"
        assert attributes["gen_ai.request.model"] == "claude-dev"
        assert attributes["gen_ai.response.finish_reasons"] in (["tool_use"], ["end_turn"])
        assert attributes["gen_ai.usage.output_tokens"] > 0
        assert attributes["gen_ai.usage.cache_read.input_tokens"] >= 0
        assert attributes["gen_ai.usage.cache_creation.input_tokens"] >= 0
    uncached = sum(
        c.attributes["gen_ai.usage.input_tokens"]
        - c.attributes["gen_ai.usage.cache_read.input_tokens"]
        - c.attributes["gen_ai.usage.cache_creation.input_tokens"]
        for c in chats
    )
    assert uncached == outcome.usage.input_tokens
    assert sum(c.attributes["gen_ai.usage.output_tokens"] for c in chats) == outcome.usage.output_tokens

    tools = named(spans, "execute_tool ")
    assert [t.name for t in tools] == [f"execute_tool {a.tool_name}" for a in outcome.actions]
    for span, action in zip(tools, outcome.actions, strict=True):
        assert span.attributes["gen_ai.operation.name"] == "execute_tool"
        assert span.attributes["gen_ai.tool.name"] == action.tool_name
        failed = action.result == "error"
        assert (span.attributes.get("error.type"), span.status == "STATUS_CODE_ERROR") == (
            ("tool_error", True) if failed else (None, False)
        )
    assert any(a.result == "error" for a in outcome.actions)

    # The product saw each call under its own span of the tick's trace.
    calls = served(clean_devmcp.url, since, kate)
    assert [c["traceparent"] for c in calls] == [traceparent_of(result.trace_id, t.span_id) for t in tools]
    assert tick_detail(live_api, admin_token, kate, result.tick_id)["tick"]["traceId"] == result.trace_id


def test_a_failed_ticks_root_span_names_the_step_it_failed_at(
    config, live_api, admin_token, clean_devllm, collector
):
    walter = add_persona(live_api, admin_token, "walter")
    fault(clean_devllm, status=500, times=3)
    result = drive(config, walter)
    tracing(collector).flush()
    assert (result.state, result.step) == ("failed", "driver")

    spans = collector.trace(result.trace_id, 2)
    [root] = [s for s in spans if not s.parent_id]
    assert root.attributes["mana.tick.outcome"] == "failed"
    assert (root.attributes["error.type"], root.status) == ("driver", "STATUS_CODE_ERROR")
    [chat] = named(spans, "chat ")
    assert chat.attributes["error.type"] == "InternalServerError" and chat.status == "STATUS_CODE_ERROR"
    assert tick_detail(live_api, admin_token, walter, result.tick_id)["tick"]["traceId"] == result.trace_id
